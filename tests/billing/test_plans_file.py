"""The plans file: the contract's example loads, `loadplans` is idempotent, and every
mistake is named by its entry and field, with nothing written."""

import pytest
from django.core.management import CommandError, call_command

from accounts.money import PICO_PER_USD
from billing.models import Plan
from billing.plans import plans_load
from billing.plans_file import PlansFileError, parse

CONTRACT = """
plans:
  - name: payg                  # unique; the plan of a new organization is the one marked default
    kind: prepaid               # prepaid: credits bought ahead, every request priced per token
    default: true
  - name: team
    kind: flat                  # flat: a monthly fee that includes usage up to a value
    monthly_fee_usd: 49
    included_usd: 40            # usage, at list prices, covered by the fee each period
    overage: bill               # bill: usage above it is invoiced per token | cap: requests stop (402)
"""


def test_the_contracts_example_loads_and_loading_twice_changes_nothing(db, tmp_path, capsys):
    path = tmp_path / "plans.yaml"
    path.write_text(CONTRACT)
    call_command("loadplans", str(path))
    assert "plans: 2 created, 0 updated, 0 unchanged; default: payg" in capsys.readouterr().out
    team = Plan.objects.get(name="team")
    assert (team.kind, team.monthly_fee_pico, team.included_pico, team.overage) == (
        "flat",
        49 * PICO_PER_USD,
        40 * PICO_PER_USD,
        "bill",
    )
    assert Plan.objects.get(is_default=True).name == "payg"
    call_command("loadplans", str(path))
    assert "plans: 0 created, 0 updated, 2 unchanged" in capsys.readouterr().out
    assert Plan.objects.count() == 2


def test_a_changed_plan_and_a_moved_default_are_updated(db):
    plans_load(data=parse(CONTRACT))
    changed = CONTRACT.replace("default: true", "default: false").replace(
        "overage: bill", "overage: cap\n    default: true"
    )
    summary = plans_load(data=parse(changed.replace("included_usd: 40", "included_usd: 40.5")))
    assert (summary.created, summary.updated, summary.default) == (0, 2, "team")
    team = Plan.objects.get(name="team")
    assert (team.overage, team.included_pico, team.is_default) == (
        "cap",
        40_500_000_000_000,
        True,
    )
    assert not Plan.objects.get(name="payg").is_default


def test_a_flat_plans_overage_defaults_to_bill(db):
    plans_load(data=parse("plans:\n  - {name: t, kind: flat, monthly_fee_usd: 5}"))
    assert Plan.objects.get(name="t").overage == "bill"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("plans: {name: x}", "a list under 'plans'"),
        ("plans:\n  - {kind: prepaid}", "plans[0].name"),
        ("plans:\n  - {name: 'a b', kind: prepaid}", "plans[0].name"),
        ("plans:\n  - {name: x, kind: monthly}", "plans[0] (x).kind must be prepaid or flat"),
        ("plans:\n  - {name: x, kind: flat, overage: stop}", "plans[0] (x).overage"),
        ("plans:\n  - {name: x, kind: flat, monthly_fee_usd: -1}", "plans[0] (x).monthly_fee_usd"),
        ("plans:\n  - {name: x, kind: flat, included_usd: ten}", "plans[0] (x).included_usd"),
        ("plans:\n  - {name: x, kind: flat, included_usd: 0.0000000000001}", "included_usd"),
        ("plans:\n  - {name: x, kind: prepaid, monthly_fee_usd: 5}", "a prepaid plan has no fee"),
        ("plans:\n  - {name: x, kind: prepaid, default: yes please}", "plans[0] (x).default"),
        ("plans:\n  - {name: x, kind: prepaid, fee: 5}", "unknown field 'fee'"),
        ("plans:\n  - {name: x, kind: prepaid}\n  - {name: x, kind: flat}", "named 'x'"),
        (
            "plans:\n  - {name: x, kind: prepaid, default: true}\n"
            "  - {name: y, kind: flat, default: true}",
            "mark only one",
        ),
        ("plans: [", "Not valid YAML"),
    ],
)
def test_a_mistake_is_named_by_entry_and_field_and_nothing_is_written(db, text, says):
    with pytest.raises(PlansFileError) as err:
        plans_load(data=parse(text))
    assert says in str(err.value)
    assert not Plan.objects.exists()


def test_loadplans_reports_a_bad_file_as_a_command_error(db, tmp_path):
    path = tmp_path / "plans.yaml"
    path.write_text("plans:\n  - {name: x, kind: monthly}")
    with pytest.raises(CommandError, match=r"plans\[0\] \(x\)\.kind"):
        call_command("loadplans", str(path))
    with pytest.raises(CommandError, match="Cannot read the plans file"):
        call_command("loadplans", str(tmp_path / "missing.yaml"))


def test_plans_file_is_loaded_when_the_server_starts(transactional_db, tmp_path, settings):
    from asgiref.sync import async_to_sync

    from platform_site import lifespan

    path = tmp_path / "plans.yaml"
    path.write_text(CONTRACT)
    settings.PLANS_FILE = str(path)
    settings.ROUTES_FILE = ""
    async_to_sync(lifespan.startup)()
    async_to_sync(lifespan.shutdown)()
    assert set(Plan.objects.values_list("name", flat=True)) == {"payg", "team"}


def test_a_load_that_loses_a_race_to_another_process_loads_again(db, tmp_path, monkeypatch):
    """Two web processes starting together load PLANS_FILE at once: the loser's insert of a
    name the winner just created raises IntegrityError; it loads again and finds it done."""
    from django.db import IntegrityError

    from billing import plans

    path = tmp_path / "plans.yaml"
    path.write_text(CONTRACT)
    real, calls = plans.plans_load, []

    def racing(*, data):
        calls.append(1)
        if len(calls) == 1:
            real(data=data)  # the other process's load, committed first
            raise IntegrityError("duplicate key value violates unique constraint")
        return real(data=data)

    monkeypatch.setattr(plans, "plans_load", racing)
    summary = plans.plans_load_path(path=str(path))
    assert len(calls) == 2 and summary.unchanged == 2
