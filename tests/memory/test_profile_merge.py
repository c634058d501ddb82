"""Profile merging: update patches (empty never erases), replace replaces, provenance per field."""

from __future__ import annotations

from pydantic import BaseModel

from memwise.memory.profile import (
    MAX_DYNAMIC_FIELDS,
    ProfileLimits,
    canonical_key,
    cap_dynamic,
    extraction_prompt,
    merge_profile,
    partial_model,
)

R1 = {"run_id": "r1", "updated_at": 1.0}


def test_update_never_erases_with_empty_values() -> None:
    data, prov = merge_profile(
        {"name": "Alice", "expertise": ["Python"]},
        {"name": R1, "expertise": R1},
        {"name": None, "expertise": [], "location": "  ", "occupation": "null"},
        mode="update", run_id="r2", now=2.0,
    )
    assert data == {"name": "Alice", "expertise": ["Python"]}
    assert prov == {"name": R1, "expertise": R1}


def test_update_patches_and_stamps_only_changed_fields() -> None:
    data, prov = merge_profile(
        {"name": "Alice", "expertise": ["Python"]},
        {"name": R1, "expertise": R1},
        {"name": "Alice", "expertise": ["python", "Rust"], "location": "Paris"},
        mode="update", run_id="r2", now=2.0,
    )
    assert data == {"name": "Alice", "expertise": ["Python", "Rust"], "location": "Paris"}
    assert prov["name"] == R1
    assert prov["expertise"] == prov["location"] == {"run_id": "r2", "updated_at": 2.0}


def test_replace_replaces_the_profile() -> None:
    data, prov = merge_profile(
        {"name": "Alice", "location": "Oslo"}, {"name": R1, "location": R1},
        {"location": "Paris", "name": None}, mode="replace", run_id="r2", now=2.0,
    )
    assert data == {"location": "Paris"}
    assert prov == {"location": {"run_id": "r2", "updated_at": 2.0}}


def test_dynamic_names_reuse_existing_fields() -> None:
    existing = ["favorite_language", "home_city"]
    assert canonical_key("Favorite Language", existing) == "favorite_language"
    assert canonical_key("favoriteLanguages", existing) == "favorite_language"
    assert canonical_key("pet", existing) == "pet"
    full = [f"f{i}" for i in range(MAX_DYNAMIC_FIELDS)]
    assert cap_dynamic({"brand_new": "x", "F1": "y"}, full) == {"f1": "y"}


def test_partial_model_makes_required_fields_optional() -> None:
    class Custom(BaseModel):
        team: str
        level: int = 1

    partial = partial_model(Custom)
    assert partial().model_dump(exclude_none=True) == {"evidence": []}
    assert partial(team="core").team == "core"
    # the user's words are asked for first, before any trait
    assert list(partial.model_json_schema()["properties"]) == ["evidence", "team", "level"]


def test_extraction_reads_a_bounded_amount_of_recent_text() -> None:
    texts = [f"message {i} " + "x" * 2000 for i in range(20)]
    prompt = extraction_prompt({"name": "Alice"}, texts, ProfileLimits(max_input_tokens=600), dynamic=True)
    assert "message 19" in prompt and "message 10" not in prompt
    assert len(prompt) < 600 * 4 + 400
    assert "Existing field names (reuse them): name" in prompt
