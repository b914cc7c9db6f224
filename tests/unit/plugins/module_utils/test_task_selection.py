"""Which tasks a run does (pure logic): the stratified --num-tasks sample and a fleet host's share."""

import collections

import pytest

from ansible_collections.openadapt.waa.plugins.filter.fleet import benchmark_shard
from ansible_collections.openadapt.waa.plugins.module_utils._bench_files import (
    BenchmarkError, sample_tasks, select_tasks, share_of)
from ansible_collections.openadapt.waa.plugins.module_utils._validate import parse_shard
from ansible.errors import AnsibleFilterError

# WAA's test_all.json has 154 tasks over 11 domains of very different sizes; this is its shape in small.
SIZES = {"chrome": 17, "libreoffice_calc": 24, "notepad": 2, "vs_code": 24, "file_explorer": 19, "settings": 5,
         "clock": 4, "microsoft_paint": 3, "msedge": 13, "vlc": 21, "windows_calc": 3}
LIST = {d: ["%08x-0000-4000-8000-%012d-WOS" % (k, i) for i in range(n)] for k, (d, n) in enumerate(SIZES.items())}
PAIRS = [(d, i) for d, ids in LIST.items() for i in ids]


def per_domain(pairs):
    return collections.Counter(d for d, _ in pairs)


def test_a_sample_follows_the_domains_sizes_and_keeps_the_list_order():
    sample = sample_tasks(PAIRS, 22, seed=0)
    assert len(sample) == 22 and len(set(sample)) == 22
    counts = per_domain(sample)
    for domain, size in SIZES.items():  # each domain's share is its proportional quota, rounded one way
        assert abs(counts[domain] - 22 * size / len(PAIRS)) < 1, (domain, counts[domain])
    assert sample == [p for p in PAIRS if p in set(sample)], "the list's order is kept"
    assert sample != PAIRS[:22], "not the head of the list (which is two domains)"


def test_the_same_seed_gives_the_same_sample_and_another_seed_another():
    assert sample_tasks(PAIRS, 10, seed=3) == sample_tasks(list(PAIRS), 10, seed=3)
    assert sample_tasks(PAIRS, 10, seed=3) != sample_tasks(PAIRS, 10, seed=4)
    assert len(sample_tasks(PAIRS, 3, seed=7)) == 3  # fewer than the domains: three domains get one each
    assert sample_tasks(PAIRS, 500) == PAIRS  # more than there are: all of them


def test_select_tasks_samples_after_the_domain_and_task_filters():
    assert select_tasks(LIST, "vlc", None, 4, 1) == sample_tasks([p for p in PAIRS if p[0] == "vlc"], 4, 1)
    two = [("notepad", LIST["notepad"][0]), ("clock", LIST["clock"][1])]
    assert select_tasks(LIST, "all", ["%s/%s" % p for p in two], 5) == two


@pytest.mark.parametrize("count", [1, 2, 3, 8, 200])
def test_shares_cover_the_list_once_with_sizes_within_one_and_every_domain_spread(count):
    shares = [share_of(PAIRS, index, count) for index in range(count)]
    flat = [p for share in shares for p in share]
    assert sorted(flat) == sorted(PAIRS), "each task in exactly one share"
    sizes = [len(share) for share in shares]
    assert max(sizes) - min(sizes) <= 1, sizes
    for domain, size in SIZES.items():
        in_shares = [per_domain(share)[domain] for share in shares]
        assert max(in_shares) - min(in_shares) <= 1, (domain, in_shares)  # a domain is dealt round, not in a block
    for share in shares:
        assert share == [p for p in PAIRS if p in set(share)], "each share keeps the list's order"


def test_even_domains_do_not_line_up_with_the_shards():
    """Dealing domain after domain with one counter: two domains of four over two hosts give each host
    two of each (a per-position split would give one host all of one domain)."""
    pairs = [("a", str(i)) for i in range(4)] + [("b", str(i)) for i in range(4)]
    for index in (0, 1):
        assert per_domain(share_of(pairs, index, 2)) == {"a": 2, "b": 2}


def test_a_shard_that_does_not_exist_is_refused_naming_the_fix():
    with pytest.raises(BenchmarkError) as err:
        share_of(PAIRS, 3, 3)
    assert err.value.code == 1 and "INDEX/COUNT" in err.value.fix


def test_a_host_s_shard_is_its_place_in_the_sorted_inventory_group_whatever_the_play_order():
    fleet = ["vm-c", "vm-a", "vm-b"]
    assert [benchmark_shard(h, fleet) for h in ("vm-a", "vm-b", "vm-c")] == [
        {"index": 0, "count": 3}, {"index": 1, "count": 3}, {"index": 2, "count": 3}]
    assert benchmark_shard("vm-b", fleet, shard_by="none") == {"index": 0, "count": 1}
    assert benchmark_shard("vm-b", fleet, override="5/8") == {"index": 5, "count": 8}
    with pytest.raises(AnsibleFilterError, match="use host"):
        benchmark_shard("vm-b", fleet, shard_by="domain")


@pytest.mark.parametrize("value", ["8/8", "1", "-1/4", "a/b", "1/0", "2/8; id"])
def test_a_bad_shard_value_is_refused(value):
    with pytest.raises(ValueError, match="INDEX/COUNT"):
        parse_shard(value)
    assert parse_shard(" 2 / 8 ") == {"index": 2, "count": 8}
