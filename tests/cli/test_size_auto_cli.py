"""`create --size auto` and `size: auto` in apply: the rule, its inputs and the result, shown and kept in JSON."""

from __future__ import annotations

import json
from pathlib import Path


def test_create_size_auto_shows_the_rule_its_inputs_and_the_result(cli, host, root: Path, mocker) -> None:
    mocker.patch.object(host, "free_bytes", return_value=1 << 40)  # the rule decides, not this disk's space
    r = cli("create", "/var/tmp/auto.swap", "--size", "auto", "--dry-run")
    assert r.exit_code == 0, r.stderr
    # The fake machine: MemTotal 24576000 kB (23.4 GiB, read as 24 GiB installed): sqrt(24) -> 5 GiB.
    assert "--size auto: 5 GiB by the cloud-init rule for 24 GiB of RAM (MemTotal 23.4 GiB)" in r.stderr
    doc = json.loads(cli("-o", "json", "create", "/var/tmp/auto.swap", "--size", "auto", "--dry-run").stdout)
    assert doc["data"]["size"] == 5 << 30 and doc["data"]["size_auto"]["policy"] == "cloud-init"
    redhat = json.loads(
        cli("-o", "json", "create", "/var/tmp/a.swap", "--size", "auto", "--size-policy", "redhat", "--dry-run").stdout
    )
    assert redhat["data"]["size"] == 4 << 30
    bad = cli("create", "/var/tmp/a.swap", "--size", "auto", "--size-policy", "huge")
    assert bad.exit_code == 2 and "size policy 'huge' is not one of cloud-init, redhat, ubuntu" in bad.stderr


def test_apply_takes_size_auto_and_reports_how_it_chose(cli, host, root: Path, tmp_path: Path, mocker) -> None:
    mocker.patch.object(host, "free_bytes", return_value=1 << 40)
    state = tmp_path / "state.yaml"
    state.write_text("swapfiles:\n  - path: /var/tmp/auto.swap\n    size: auto\n")
    doc = json.loads(cli("-o", "json", "apply", str(state), "--dry-run").stdout)
    (item,) = [i for i in doc["data"]["items"] if i["kind"] == "swapfile"]
    assert item["after"]["size"] == 5 << 30 and item["after"]["size_auto"]["ram"] == 24 << 30
