"""User analysis — default schema, custom schema, dynamic profile that reuses field
names, update = patch, replace = replace, per-field provenance, bounded input."""

from __future__ import annotations

from pydantic import BaseModel

from memwise import Agent, Memory
from memwise.memory.profile import UserTraits
from tests.memory.fakes import ReadingModel


def agent_for(storage, reader: ReadingModel, **flags) -> tuple[Agent, Memory]:
    memory = Memory(storage, session_id="s1", user_id="u1", user_analysis_memory=True, **flags)
    return Agent(reader.model, memory=memory), memory


def test_profile_default_schema(storage, reader) -> None:
    agent, memory = agent_for(storage, reader)
    agent.do("My name is Alice and I'm a Python developer")
    profile = memory.get_user_profile()
    call = reader.of("profile")[0]
    properties = list(call.info.output_tools[0].parameters_json_schema["properties"])
    assert properties == ["evidence", *UserTraits.model_fields]  # the user's words come first
    assert profile.data == {"name": "Alice", "expertise": ["Python"]}
    answer = agent.do("Who am I?")
    assert "name=Alice" in answer and "expertise=Python" in answer


def test_profile_custom_schema(storage) -> None:
    class TeamProfile(BaseModel):
        team: str  # required in the user's schema: extraction may still leave it out
        favourite_topic: str | None = None

    def custom(prompt, info):
        fields = set(info.output_tools[0].parameters_json_schema["properties"])
        assert fields == {"evidence", "team", "favourite_topic"}
        return {"evidence": ["I like chess"], "favourite_topic": "chess"} if "chess" in prompt else {}

    reader = ReadingModel(trait_overrides=custom)
    agent, memory = agent_for(storage, reader, user_profile_schema=TeamProfile)
    agent.do("I like chess")
    agent.do("Nothing new here")
    assert memory.get_user_profile().data == {"favourite_topic": "chess"}


def test_profile_dynamic_profile_reuses_field_names(storage) -> None:
    names = iter(["Favorite Language", "favoriteLanguages", "favorite_language"])

    def drifting(prompt, info):  # a model that words the same trait differently each run
        said = prompt.rpartition("- ")[2].strip()
        return {"evidence": [said], "traits": [{"name": next(names), "value": "Python"}, {"name": "pet", "value": None}]}

    reader = ReadingModel(trait_overrides=drifting)
    agent, memory = agent_for(storage, reader, dynamic_user_profile=True)
    for text in ("I code in Python", "Python again", "Still Python"):
        agent.do(text)
    assert memory.get_user_profile().data == {"favorite_language": "Python"}
    second_prompt = reader.of("profile")[1].prompt
    assert "Existing field names (reuse them): favorite_language" in second_prompt


def test_profile_update_is_a_patch_with_provenance(storage) -> None:
    replies = iter([
        {"evidence": ["My name is Alice", "I know Python"], "name": "Alice", "expertise": ["Python"]},
        {"name": None, "expertise": [], "location": ""},  # empty values must not erase anything
        {"evidence": ["I moved to Paris", "learned Rust"], "location": "Paris", "expertise": ["Rust"]},
    ])
    reader = ReadingModel(trait_overrides=lambda prompt, info: next(replies))
    agent, memory = agent_for(storage, reader)
    texts = ("My name is Alice and I know Python", "Nothing new", "I moved to Paris and learned Rust")
    runs = [agent.do(text, return_output=True).run_id for text in texts]
    profile = memory.get_user_profile()
    assert profile.data == {"name": "Alice", "expertise": ["Python", "Rust"], "location": "Paris"}
    assert profile.provenance["name"]["run_id"] == runs[0]
    assert profile.provenance["expertise"]["run_id"] == runs[2]
    assert profile.provenance["location"]["run_id"] == runs[2]
    assert profile.provenance["name"]["updated_at"] < profile.provenance["location"]["updated_at"]
    # each field keeps the user's words; a list that grew keeps the quotes of its earlier items
    assert profile.provenance["name"]["evidence"] == ["My name is Alice"]
    assert profile.provenance["expertise"]["evidence"] == ["I know Python", "learned Rust"]


def test_profile_replace_mode_replaces(storage) -> None:
    replies = iter([
        {"evidence": ["My name is Alice", "I live in Oslo"], "name": "Alice", "location": "Oslo"},
        {"evidence": ["I live in Paris now"], "location": "Paris"},
    ])
    reader = ReadingModel(trait_overrides=lambda prompt, info: next(replies))
    agent, memory = agent_for(storage, reader, user_memory_mode="replace")
    agent.do("My name is Alice and I live in Oslo")
    last = agent.do("I live in Paris now", return_output=True)
    profile = memory.get_user_profile()
    assert profile.data == {"location": "Paris"}
    assert profile.provenance == {"location": {
        "run_id": last.run_id, "updated_at": profile.provenance["location"]["updated_at"], "evidence": ["I live in Paris now"],
    }}


def test_profile_extraction_reads_bounded_recent_user_text(storage, reader) -> None:
    agent, memory = agent_for(storage, reader, full_session_memory=True, profile_input_tokens=300)
    for i in range(30):
        agent.do(f"message number {i}: " + "blah " * 400)
    memory.flush()
    prompts = [c.prompt for c in reader.of("profile")]
    assert "message number 29" in prompts[-1]
    assert all(f"message number {i}:" not in prompts[-1] for i in range(29))  # no earlier prompt
    assert max(len(p) for p in prompts) < 300 * 4 + 300  # capped: a 2,000-character message is cut
