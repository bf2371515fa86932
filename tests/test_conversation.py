import pytest

from assistant.conversation import ConversationState, is_follow_up


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


@pytest.mark.parametrize(
    "question",
    ["Who co-chaired the fifth defence policy dialogue?", "What is the capital of France?", "Who led the Son La delegation?"],
)
def test_standalone_questions(question):
    assert not is_follow_up(question)


def test_state_carries_the_topic_into_follow_ups_only():
    state = ConversationState()
    first = "Who co-chaired the fifth defence policy dialogue?"
    assert state.context_for(first) == ""
    state.record(first, "")
    assert state.context_for("Where was it held?") == first
    state.record("Where was it held?", first)
    assert state.context_for("When was that?") == f"{first} Where was it held?"
    assert state.context_for("What is the capital of France?") == ""
    state.record("What is the capital of France?", "")
    assert state.topics == ["What is the capital of France?"]


def test_states_are_independent():
    one, two = ConversationState(), ConversationState()
    one.record("Who led the Lao side?", "")
    assert two.context_for("Where was it held?") == ""
