import pytest

from assistant.conversation import ConversationState, is_follow_up
from assistant.question import Question
from assistant.records import Answer, ShortAnswer


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


def answered(question: str, short: str | None) -> Answer:
    found = ShortAnswer(short, "a.txt", 0, len(short)) if short else None
    return Answer(question, f"{short} — …" if short else "…", False, [], found)


def test_a_pronoun_resolves_to_the_entity_of_its_kind_the_last_answer_named():
    state = ConversationState()
    first = "Who led the Lao side?"
    state.record(Question.analyse(first), answered(first, "Colonel Viliem Vongthisan"))
    assert state.entities == [("Colonel Viliem Vongthisan", "person")]
    his = Question.analyse("What is his position?", state.topics, state.entities)
    assert his.follow_up and his.context == f"{first} Colonel Viliem Vongthisan"
    they = Question.analyse("What did they sign?", state.topics, state.entities)
    assert they.context == first  # "they" are the sides of the topic, not the man named


def test_entities_last_until_a_new_topic():
    state = ConversationState()
    state.record(Question.analyse("Who led the Lao side?"), answered("Who led the Lao side?", "Colonel Viliem Vongthisan"))
    follow_up = Question.analyse("What did they sign?", state.topics, state.entities)
    state.record(follow_up, answered("What did they sign?", None))
    assert state.entities == [("Colonel Viliem Vongthisan", "person")]  # an answer naming nobody keeps him
    state.record(Question.analyse("What is the capital of France?"), answered("What is the capital of France?", None))
    assert state.entities == [] and state.topics == ["What is the capital of France?"]


def test_one_entity_per_kind_and_a_bounded_topic():
    state = ConversationState()
    state.record(Question.analyse("Who led the Lao side?"), answered("Who led the Lao side?", "Colonel Viliem Vongthisan"))
    how_many = Question.analyse("How many soldiers did he bring?", state.topics, state.entities)
    state.record(how_many, answered(how_many.text, "40"))
    assert state.entities == [("Colonel Viliem Vongthisan", "person"), ("40", "quantity")]  # "he" is still him
    for text in ("And the next day?", "And then?", "And after that?"):
        state.record(Question.analyse(text, state.topics, state.entities), answered(text, None))
    assert state.topics == ["And then?", "And after that?"]
