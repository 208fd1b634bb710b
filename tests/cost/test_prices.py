"""The price table: which price a model takes, what a request costs, and a bad price file."""

from __future__ import annotations

import pytest

from tuieval.cost.budget import Budget
from tuieval.cost.prices import Price, PriceError, default_table, load_table


def test_a_dated_snapshot_takes_its_own_family_not_a_shorter_one():
    table = default_table()
    assert table.lookup("openai/gpt-4o-mini-2024-07-18").model == "openai/gpt-4o-mini"
    assert table.lookup("openai/gpt-4o-2024-08-06").model == "openai/gpt-4o"
    assert table.lookup("anthropic/claude-sonnet-4-5-20250929").model == "anthropic/claude-sonnet-4-5"
    assert table.lookup("anthropic/claude-sonnet-4-20250514").model == "anthropic/claude-sonnet-4"
    assert table.lookup("demo/brittle").simulated is True
    assert table.lookup("openai-compatible/llama") is None  # a local server has no list price
    assert table.lookup("vllm/qwen") is None


def test_cost_of_one_request_by_hand():
    gpt4o = default_table().lookup("openai/gpt-4o")
    # 1,000 input tokens at $2.50/M + 500 output tokens at $10/M = 0.0025 + 0.005
    assert gpt4o.cost(1000, 500) == pytest.approx(0.0075)
    # the batch APIs take half off both
    assert gpt4o.cost(1000, 500, batch=True) == pytest.approx(0.00375)
    assert gpt4o.cost(None, None) == 0.0


def test_a_price_file_is_laid_over_the_shipped_table(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text("read_on: '2026-11-30'\nmodels:\n  openai/gpt-4o: {input: 1, output: 2}\n"
                    "  openai-compatible/echo: {input: 10, output: 20}\n", encoding="utf-8")
    table = load_table(str(path))
    assert table.lookup("openai/gpt-4o").input == 1.0
    assert table.lookup("openai/gpt-4o").read_on == "2026-11-30"
    assert table.lookup("openai-compatible/echo").output == 20.0
    assert table.lookup("openai/gpt-4o-mini").input == 0.15  # untouched entries stay


@pytest.mark.parametrize("text, names", [
    ("models: {openai/x: {input: -1, output: 2}}", "models.openai/x.input"),
    ("models: {openai/x: {input: 1}}", "models.openai/x.output"),
    ("models: {openai/x: {input: 1, output: 'cheap'}}", "models.openai/x.output"),
    ("models: {openai/x: {input: 1, output: 1, outptu: 2}}", "models.openai/x.outptu"),
    ("models: {gpt-4o: {input: 1, output: 1}}", "models.gpt-4o"),
    ("models: [1, 2]", "models"),
    ("batch_discount: {openai: 2}\nmodels: {}", "batch_discount.openai"),
    ("models: {a/b: [1}", "line"),
])
def test_a_bad_price_file_names_the_field(tmp_path, text, names):
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PriceError) as info:
        load_table(str(path))
    assert str(path) in str(info.value) and names in str(info.value)


def test_a_missing_price_file_is_named(tmp_path):
    with pytest.raises(PriceError, match="nope.yaml: cannot read"):
        load_table(str(tmp_path / "nope.yaml"))


def _price(per_request_input_tokens: int) -> Price:
    return Price(model="t/", input=1.0, output=0.0)  # $1 per million input tokens


def test_the_budget_stops_within_one_request_of_the_limit_one_at_a_time():
    # each request costs 300,000 input tokens × $1/M = $0.30; limit $1.00 → the 4th request is
    # admitted with $0.90 spent and brings it to $1.20; a 5th is refused
    budget = Budget(limit=1.0, price=_price(0))
    sent = 0
    while budget.admit():
        sent += 1
        budget.settle(300_000, 0)
    assert sent == 4
    assert budget.spent == pytest.approx(1.2)
    assert budget.spent - budget.limit < 0.3


def test_the_budget_keeps_room_for_what_is_in_flight():
    budget = Budget(limit=1.0, price=_price(0))
    assert budget.admit()          # the first request: nothing known yet, one at a time
    assert not budget.admit()      # a second waits for the first cost
    budget.settle(200_000, 0)      # $0.20 spent, mean $0.20
    # admitted while 0.20 + (in_flight + 1) × 0.20 ≤ 1.00: three more at once (0.20 + 3 × 0.20 = 0.80),
    # a fourth too (0.20 + 4 × 0.20 = 1.00), not a fifth
    assert [budget.admit() for _ in range(5)] == [True, True, True, True, False]


def test_an_answer_without_token_counts_is_costed_from_its_text():
    budget = Budget(limit=10.0, price=Price(model="t/", input=1.0, output=1.0))
    budget.admit()
    # 4,000,000 characters of prompt ≈ 1,000,000 tokens ($1), 400 characters of answer ≈ 100 tokens
    dollars = budget.settle(None, None, prompt_text="x" * 4_000_000, answer_text="y" * 400)
    assert dollars == pytest.approx(1.0 + 100 / 1e6)
    assert budget.n_estimated == 1
