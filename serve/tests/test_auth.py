import hashlib
import logging
import os
import subprocess
import sys

import pytest
import yaml

from ndif_serve import apikey
from ndif_serve.auth import ApiKeys, Identity, KeysUnavailable, parse_entries


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def test_hashed_entries_identify_their_key_and_hold_nothing_usable(tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text(f"keys:\n- {{sha256: {sha('k1')}, name: ada, tags: [trusted]}}\n- {{sha256: {sha('k2').upper()}}}\n")
    keys = ApiKeys(str(path))
    assert keys.identify("k1") == Identity("ada", ("trusted",))
    assert keys.identify("k2") == Identity(None, ())
    # The digest itself is not a key.
    assert keys.identify(sha("k1")) is None
    assert keys.plain_entries == 0


def test_plain_entries_still_work_and_are_warned_about_by_name(tmp_path, caplog):
    path = tmp_path / "keys.yaml"
    path.write_text(f"keys:\n- {{key: old, name: bob}}\n- {{sha256: {sha('new')}, name: ada}}\n")
    loads = []
    keys = ApiKeys(str(path), on_load=loads.append)
    with caplog.at_level(logging.WARNING, logger="ndif_serve.auth"):
        assert keys.identify("old") == Identity("bob", ())
    assert loads == [1]
    assert keys.identify("new") == Identity("ada", ())
    assert keys.plain_entries == 1
    assert "1 key(s) in plain text (bob)" in caplog.text
    assert "old" not in caplog.text.replace("holds", "")


def test_new_prints_a_key_once_and_an_entry_that_accepts_it(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "ndif_serve.apikey", "new", "--name", "ada", "--tag", "trusted"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    key, entry = out[1], out[3]
    assert key.startswith("ndif-") and len(key) > 40
    assert key not in entry
    path = tmp_path / "keys.yaml"
    path.write_text("keys:\n" + entry + "\n")
    assert ApiKeys(str(path)).identify(key) == Identity("ada", ("trusted",))
    # A second key is another key.
    again = subprocess.run(
        [sys.executable, "-m", "ndif_serve.apikey", "new"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[1]
    assert again != key


def test_entry_reads_the_key_from_standard_input():
    out = subprocess.run(
        [sys.executable, "-m", "ndif_serve.apikey", "entry", "--name", "ci"],
        input="s3cret\n", capture_output=True, text=True, check=True,
    ).stdout
    assert yaml.safe_load(out) == [{"sha256": sha("s3cret"), "name": "ci"}]


def test_hash_rewrites_plain_keys_and_keeps_the_rest():
    text = f"keys:\n- {{key: k1, name: ada, tags: [trusted]}}\n- {{sha256: {sha('k2')}, name: bob}}\n"
    hashed = apikey.hash_file(text)
    assert "k1" not in hashed
    assert yaml.safe_load(hashed) == {
        "keys": [
            {"sha256": sha("k1"), "name": "ada", "tags": ["trusted"]},
            {"sha256": sha("k2"), "name": "bob"},
        ]
    }
    assert all(not e.plain for e in parse_entries(hashed, "f"))


def test_keys_name_their_holder_and_tags(tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text(f"keys:\n- {{sha256: {sha('k1')}, name: ada, tags: [trusted]}}\n- {{key: k2}}\n")
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
        ("keys: [{name: no-key}]", "entry 0 of the API key file f has no 'sha256' \\(or 'key'\\) string"),
        ("keys: [{key: k, tags: trusted}]", "tags must be strings"),
        ("keys: [{sha256: abc}]", "sha256 must be 64 hex digits"),
        ("keys: [{sha256: " + "0" * 64 + ", key: k}]", "has both 'sha256' and 'key'"),
        ("keys: [just-a-string]", "entry 0 of the API key file f is not a mapping"),
        ("keys: [", "not valid YAML"),
    ],
)
def test_bad_entries_are_named(text, message):
    with pytest.raises(KeysUnavailable, match=message):
        parse_entries(text, "f")
