import math

import pytest
import torch

from multiview.objectives.infonce import multiview_info_nce, view_pairs
from multiview.objectives.memory_bank import MemoryBankNCE, nce_loss
from tests.objectives.test_infonce import reference_info_nce


def test_view_pairs():
    views = ["L", "ab", "depth", "seg"]
    assert view_pairs(views, "full") == [("L", "ab"), ("L", "depth"), ("L", "seg"), ("ab", "depth"),
                                          ("ab", "seg"), ("depth", "seg")]
    assert view_pairs(views, "core") == [("L", "ab"), ("L", "depth"), ("L", "seg")]
    assert view_pairs(views, "core", anchor="seg") == [("seg", "L"), ("seg", "ab"), ("seg", "depth")]
    with pytest.raises(ValueError, match="graph"):
        view_pairs(views, "star")


@pytest.mark.parametrize("n_views", [2, 3, 4])
@pytest.mark.parametrize("graph", ["full", "core"])
@pytest.mark.parametrize("tau", [0.07, 0.5])
def test_multiview_loss_matches_reference(n_views, graph, tau):
    g = torch.Generator().manual_seed(n_views * 10 + int(tau * 100))
    names = [f"v{i}" for i in range(n_views)]
    z = {v: torch.randn(9, 5, generator=g) for v in names}
    pairs = view_pairs(names, graph)
    weights = {p: 0.5 + i for i, p in enumerate(pairs)}
    total, per_pair = multiview_info_nce(z, pairs, tau, weights)
    expected = sum(weights[(a, b)] * reference_info_nce(z[a], z[b], tau) for a, b in pairs)
    assert total.item() == pytest.approx(expected, rel=1e-4)
    assert len(per_pair) == len(pairs) == (n_views * (n_views - 1) // 2 if graph == "full" else n_views - 1)


def reference_nce(scores, n_data):
    """Wu et al. 2018 Eq. 6-7 written out: h = P / (P + K/n); -log h(pos) - sum log(1 - h(neg))."""
    total = 0.0
    k = len(scores[0]) - 1
    for row in scores.tolist():
        h = [p / (p + k / n_data) for p in row]
        total += -math.log(h[0]) - sum(math.log(1 - x) for x in h[1:])
    return total / len(scores)


@pytest.mark.parametrize("k,n", [(1, 10), (16, 100), (64, 5000)])
def test_nce_loss_matches_definition(k, n):
    scores = torch.rand(7, k + 1, generator=torch.Generator().manual_seed(k)) * 3 / n
    assert nce_loss(scores, n).item() == pytest.approx(reference_nce(scores, n), rel=1e-4)


def test_memory_bank_scores_normaliser_and_update():
    torch.manual_seed(0)
    bank = MemoryBankNCE(["a", "b"], dim=4, n_data=20, k=5, temperature=0.5, momentum=0.25)
    z = {v: torch.nn.functional.normalize(torch.randn(3, 4), dim=1) for v in "ab"}
    index = torch.tensor([2, 7, 11])
    negatives = torch.randint(20, (3, 5))
    before = {v: getattr(bank, f"bank_{v}").clone() for v in "ab"}
    s = bank.scores(z["a"], "b", "a", index, negatives)
    raw = torch.exp(torch.cat([before["b"][index].unsqueeze(1), before["b"][negatives]], 1)
                    .matmul(z["a"].unsqueeze(2)).squeeze(2) / 0.5)
    assert bank.z_a_b.item() == pytest.approx(raw.mean().item() * 20, rel=1e-5)  # Z from the first batch
    assert torch.allclose(s, raw / bank.z_a_b)
    z_first = bank.z_a_b.item()
    bank.scores(z["a"] * 0.5, "b", "a", index, negatives)
    assert bank.z_a_b.item() == z_first  # then held constant
    bank.update(z, index)
    for v in "ab":
        expected = torch.nn.functional.normalize(before[v][index] * 0.25 + z[v] * 0.75, dim=1)
        assert torch.allclose(getattr(bank, f"bank_{v}")[index], expected, atol=1e-6)
        untouched = torch.ones(20, dtype=torch.bool)
        untouched[index] = False
        assert torch.equal(getattr(bank, f"bank_{v}")[untouched], before[v][untouched])


def test_memory_bank_loss_learns_to_match_views():
    torch.manual_seed(0)
    n, d = 64, 8
    xa, xb = torch.randn(n, 16), torch.randn(n, 16)
    xb = xa @ torch.randn(16, 16) * 0.5 + 0.1 * xb  # view b is a linear function of view a
    enc = torch.nn.ModuleDict({"a": torch.nn.Linear(16, d), "b": torch.nn.Linear(16, d)})
    bank = MemoryBankNCE(["a", "b"], d, n_data=n, k=32, temperature=0.1, momentum=0.5)
    opt = torch.optim.Adam(enc.parameters(), 1e-2)
    losses = []
    for _step in range(150):
        idx = torch.randperm(n)[:32]
        loss, _ = bank({"a": enc["a"](xa[idx]), "b": enc["b"](xb[idx])}, idx, [("a", "b")])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) / 10 < 0.6 * sum(losses[:10]) / 10
    with torch.no_grad():
        za = torch.nn.functional.normalize(enc["a"](xa), dim=1)
        zb = torch.nn.functional.normalize(enc["b"](xb), dim=1)
    top1 = ((za @ zb.T).argmax(1) == torch.arange(n)).float().mean()
    assert top1 > 0.5  # chance is 1/64


def test_bank_resizes_to_a_loaded_state():
    a = MemoryBankNCE(["x", "y"], 4, n_data=12)
    b = MemoryBankNCE(["x", "y"], 4)
    b.load_state_dict(a.state_dict())
    assert b.n_data == 12 and torch.equal(b.bank_x, a.bank_x)
