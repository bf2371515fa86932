import pytest

from assistant.conversation import ConversationState, is_follow_up
from assistant.question import Question


@pytest.mark.parametrize(
    "question",
    [
        "Where was it held?",
        "What did they sign?",
        "Which disease was that for?",
        "And the Lao side?",
        "When?",
        "What about Điện Biên?",
    ],
)
def test_follow_ups(question):
    assert is_follow_up(question)
    assert Question.analyse(question, ["Who led the Lao side?"]).follow_up


@pytest.mark.parametrize(
    "question",
    ["Who co-chaired the fifth defence policy dialogue?", "What is the capital of France?", "Who led the Son La delegation?"],
)
def test_standalone_questions(question):
    assert not is_follow_up(question)
    assert not Question.analyse(question, ["Who led the Lao side?"]).follow_up


def context_for(state: ConversationState, text: str) -> str:
    return Question.analyse(text, state.topics).context


def test_state_carries_the_topic_into_follow_ups_only():
    state = ConversationState()
    first = "Who co-chaired the fifth defence policy dialogue?"
    assert context_for(state, first) == ""
    state.record(Question.analyse(first, state.topics))
    assert context_for(state, "Where was it held?") == first
    state.record(Question.analyse("Where was it held?", state.topics))
    assert context_for(state, "When was that?") == f"{first} Where was it held?"
    assert context_for(state, "What is the capital of France?") == ""
    state.record(Question.analyse("What is the capital of France?", state.topics))
    assert state.topics == ["What is the capital of France?"]


def test_states_are_independent():
    one, two = ConversationState(), ConversationState()
    one.record(Question.analyse("Who led the Lao side?", one.topics))
    assert context_for(two, "Where was it held?") == ""
