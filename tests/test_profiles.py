"""Profiles are validated once, at the edge, into frozen typed objects."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tace.profiles import ProfileError, available_profiles, load_profile


def test_every_shipped_profile_loads():
    assert set(available_profiles()) >= {"smoke", "default", "paper"}
    for name in available_profiles():
        assert load_profile(name).name == name


def test_default_and_paper_profiles_have_the_papers_cohort_sizes():
    """Seed summary: 112 train, 48 test, 38 external, 117 follow-up."""
    for name in ("default", "paper"):
        s = load_profile(name).synthetic
        assert (s.n_train, s.n_test, s.n_external, s.n_followup) == (112, 48, 38, 117)


def test_profile_is_frozen():
    profile = load_profile("smoke")
    with pytest.raises(ValidationError):
        profile.seed = 1


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(ProfileError, match=r"unknown profile 'fast'; expected one of: default, paper, smoke"):
        load_profile("fast")


def test_invalid_profile_lists_every_bad_setting(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\ndescription: x\nseed: -1\nsynthetic:\n  n_train: 0\n  n_test: 4\n"
        "  n_external: 4\n  n_followup: 4\n  shape: [64, 64, 20]\n  spacing_mm: [3, 3, 8]\n"
        "  n_tests: 3\nradiomics:\n  params: radiomics/mri_smoke.yaml\ndcnn:\n  input_size: 32\n  epochs: 1\n")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    text = str(info.value)
    assert "3 invalid setting(s)" in text
    assert "seed: Input should be greater than or equal to 0" in text
    assert "synthetic.n_train: Input should be greater than 0" in text
    assert "synthetic.n_tests: Extra inputs are not permitted" in text


def test_profile_refuses_a_field_of_view_too_small_for_the_phantom(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(
        "name: tiny\ndescription: x\nseed: 1\nsynthetic:\n  n_train: 4\n  n_test: 4\n"
        "  n_external: 4\n  n_followup: 4\n  shape: [16, 16, 8]\n  spacing_mm: [3, 3, 8]\n"
        "radiomics:\n  params: radiomics/mri_smoke.yaml\ndcnn:\n  input_size: 32\n  epochs: 1\n")
    with pytest.raises(ProfileError, match=r"field of view 48 x 48 x 64 mm .* too small"):
        load_profile(path)


def test_profile_that_is_not_yaml_is_refused(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ProfileError, match=r"broken\.yaml: not valid YAML"):
        load_profile(path)


def test_profile_names_a_missing_radiomics_parameter_file(tmp_path):
    text = (load_profile("smoke").model_dump_json())
    import json
    data = json.loads(text)
    data["radiomics"]["params"] = "radiomics/nope.yaml"
    path = tmp_path / "p.yaml"
    import yaml
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ProfileError, match=r"radiomics.params: .*nope\.yaml not found"):
        load_profile(path)


def test_every_profile_lists_its_deviations_from_the_paper():
    for name in ("smoke", "default"):
        assert load_profile(name).deviations_from_paper
