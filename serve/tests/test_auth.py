import os

import pytest

from ndif_serve.auth import ApiKeys, Identity, KeysUnavailable, parse_keys


def test_keys_name_their_holder_and_tags(tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text("keys:\n- {key: k1, name: ada, tags: [trusted]}\n- {key: k2}\n")
    keys = ApiKeys(str(path))
    assert keys.identify("k1") == Identity("ada", ("trusted",))
    assert keys.identify("k2") == Identity(None, ())
    assert keys.identify("k3") is None
    assert keys.identify("") is None
    assert keys.identify(None) is None


def test_a_changed_file_is_read_again(tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text("[{key: old}]\n")
    keys = ApiKeys(str(path))
    assert keys.identify("old") is not None
    path.write_text("[{key: new, name: rotated}]\n")
    os.utime(path, ns=(1, 10**18))
    assert keys.identify("old") is None
    assert keys.identify("new") == Identity("rotated", ())


def test_a_missing_or_broken_file_refuses_everyone_and_says_why(tmp_path):
    with pytest.raises(KeysUnavailable, match="cannot be read"):
        ApiKeys(str(tmp_path / "absent.yaml")).identify("anything")
    broken = tmp_path / "broken.yaml"
    broken.write_text("keys: {not: a list}\n")
    with pytest.raises(KeysUnavailable, match="must hold a list"):
        ApiKeys(str(broken)).identify("anything")


@pytest.mark.parametrize(
    "text, message",
    [
        ("keys: [{name: no-key}]", "entry 0 of the API key file f has no 'key' string"),
        ("keys: [{key: k, tags: trusted}]", "tags must be strings"),
        ("keys: [", "not valid YAML"),
    ],
)
def test_bad_entries_are_named(text, message):
    with pytest.raises(KeysUnavailable, match=message):
        parse_keys(text, "f")
