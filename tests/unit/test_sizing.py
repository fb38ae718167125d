"""--size auto: each rule at its boundaries, MemTotal read as the installed RAM, the free-space cap."""

from __future__ import annotations

import pytest

from swapctl.ops.sizing import auto_size, explain, installed_ram

MIB, GIB = 1 << 20, 1 << 30
PLENTY = 1 << 50


@pytest.mark.parametrize(
    ("mem_total", "ram"),
    [
        (int(3.8 * GIB), 4 * GIB),  # a 4 GiB VM: firmware and the kernel take a little
        (int(15.2 * GIB), 16 * GIB),
        (int(3.5 * GIB), int(3.5 * GIB)),  # 12.5% short of 4 GiB: that is a 3.5 GiB machine
        (8 * GIB, 8 * GIB),
    ],
)
def test_memtotal_a_little_below_a_whole_gib_counts_as_that_gib(mem_total: int, ram: int) -> None:
    assert installed_ram(mem_total) == ram


@pytest.mark.parametrize(
    ("policy", "ram", "size"),
    [
        ("cloud-init", 2 * GIB, 2 * GIB),
        ("cloud-init", int(3.5 * GIB), int(3.5 * GIB)),
        ("cloud-init", int(3.8 * GIB), 4 * GIB),  # 4 GiB installed: the second bucket
        ("cloud-init", 8 * GIB, 4 * GIB),
        ("cloud-init", 16 * GIB, 4 * GIB),  # sqrt(16) = 4
        ("cloud-init", 64 * GIB, 8 * GIB),
        ("cloud-init", 100 * GIB, 10 * GIB),
        ("redhat", 1 * GIB, 2 * GIB),
        ("redhat", 2 * GIB, 4 * GIB),
        ("redhat", 6 * GIB, 6 * GIB),
        ("redhat", 8 * GIB, 8 * GIB),
        ("redhat", 32 * GIB, 4 * GIB),
        ("ubuntu", 512 * MIB, 512 * MIB),
        ("ubuntu", 2 * GIB, 1 * GIB),
        ("ubuntu", 16 * GIB, 4 * GIB),
    ],
)
def test_each_rule_gives_its_documented_size(policy: str, ram: int, size: int) -> None:
    got, why = auto_size(ram, PLENTY, 4096, policy)
    assert got == size and why["rule_size"] == size and not why["capped"]


def test_half_the_free_space_caps_it_in_whole_256_mib_steps() -> None:
    size, why = auto_size(64 * GIB, 3 * GIB + 100 * MIB, 4096)
    assert why["rule_size"] == 8 * GIB and why["capped"]
    assert size == 1536 * MIB  # (3 GiB + 100 MiB) / 2 = 1586 MiB, down to 1536
    assert "capped at half the free space" in explain(why)


def test_the_size_is_whole_pages_and_never_below_the_minimum() -> None:
    size, _ = auto_size(int(3.5 * GIB) + 12345, PLENTY, 65536)
    assert size % 65536 == 0
    assert auto_size(8 * GIB, 10 * MIB, 4096)[0] == 64 * MIB
