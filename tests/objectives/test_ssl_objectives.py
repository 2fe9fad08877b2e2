"""NT-Xent, MoCo's queue InfoNCE, BYOL/SimSiam's negative cosine, DINO's multi-crop loss and
instance discrimination's bank NCE, each against a slow loop written here from the paper."""

import math

import pytest
import torch
import torch.nn.functional as F

from multiview.objectives.dino import dino_loss, updated_center
from multiview.objectives.instance import InstanceBankNCE
from multiview.objectives.moco import KeyQueue, moco_info_nce, shuffled_encode
from multiview.objectives.ntxent import nt_xent
from multiview.objectives.predictive import byol_loss, negative_cosine


def cos(u, v):
    return sum(a * b for a, b in zip(u, v)) / math.sqrt(sum(a * a for a in u) * sum(b * b for b in v))


@pytest.mark.parametrize("n,d", [(2, 3), (5, 8), (16, 4)])
@pytest.mark.parametrize("tau", [0.1, 0.5, 1.0])
def test_nt_xent_matches_a_loop(n, d, tau):
    torch.manual_seed(n * d)
    z1, z2 = torch.randn(n, d), torch.randn(n, d)
    z = z1.tolist() + z2.tolist()  # SimCLR's 2N views: k and k + N are a pair
    total = 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        denom = sum(math.exp(cos(z[i], z[k]) / tau) for k in range(2 * n) if k != i)  # 2N - 1 terms
        total += -math.log(math.exp(cos(z[i], z[j]) / tau) / denom)
    assert nt_xent(z1, z2, tau).item() == pytest.approx(total / (2 * n), rel=1e-4)


@pytest.mark.parametrize("n,d,k", [(3, 4, 5), (8, 16, 32)])
@pytest.mark.parametrize("tau", [0.07, 0.2])
def test_moco_info_nce_matches_a_loop(n, d, k, tau):
    torch.manual_seed(k)
    q, key, queue = torch.randn(n, d), torch.randn(n, d), torch.randn(k, d)
    total = 0.0
    for i in range(n):
        pos = math.exp(cos(q[i].tolist(), key[i].tolist()) / tau)
        neg = sum(math.exp(cos(q[i].tolist(), queue[j].tolist()) / tau) for j in range(k))
        total += -math.log(pos / (pos + neg))
    assert moco_info_nce(q, key, queue, tau).item() == pytest.approx(total / n, rel=1e-4)


def test_queue_is_first_in_first_out():
    queue = KeyQueue(5, 2)
    for step in range(3):
        queue.push(torch.full((2, 2), float(step + 1)))
    rows = queue.keys[:, 0] * math.sqrt(2)  # keys are normalised: (c, c) -> (1/sqrt2, 1/sqrt2)
    assert torch.allclose(rows, torch.ones(5)) and int(queue.ptr) == 1
    assert {"keys", "ptr"} <= set(queue.state_dict())


def test_shuffled_encoding_returns_outputs_in_order():
    x = torch.randn(7, 3)
    assert torch.allclose(shuffled_encode(lambda t: t * 2 + 1, x, seed=3), x * 2 + 1)


@pytest.mark.parametrize("n,d", [(4, 3), (9, 16)])
def test_negative_cosine_and_byol_match_a_loop(n, d):
    torch.manual_seed(d)
    p, z = torch.randn(n, d, requires_grad=True), torch.randn(n, d, requires_grad=True)
    ref = -sum(cos(p[i].tolist(), z[i].tolist()) for i in range(n)) / n
    assert negative_cosine(p, z).item() == pytest.approx(ref, rel=1e-5)
    pn, zn = F.normalize(p, dim=1).tolist(), F.normalize(z, dim=1).tolist()
    ref_byol = sum(sum((a - b) ** 2 for a, b in zip(pn[i], zn[i])) for i in range(n)) / n
    loss = byol_loss(p, z)
    assert loss.item() == pytest.approx(ref_byol, rel=1e-5)
    loss.backward()
    assert z.grad is None and p.grad is not None  # stop-gradient on the target


@pytest.mark.parametrize("n_global,n_local", [(2, 0), (2, 3), (1, 2)])
@pytest.mark.parametrize("t_s,t_t", [(0.1, 0.04), (0.2, 0.07)])
def test_dino_loss_matches_a_loop(n_global, n_local, t_s, t_t):
    torch.manual_seed(n_local)
    b, k = 3, 6
    teacher = [torch.randn(b, k) for _ in range(n_global)]
    student = [torch.randn(b, k) for _ in range(n_global + n_local)]
    center = torch.randn(1, k) * 0.1

    def softmax(row, t):
        e = [math.exp(v / t) for v in row]
        return [v / sum(e) for v in e]

    total, pairs = 0.0, 0
    for i in range(n_global):
        for j in range(n_global + n_local):
            if i == j:
                continue  # the same global crop seen by both
            ce = 0.0
            for r in range(b):
                pt = softmax([a - c for a, c in zip(teacher[i][r].tolist(), center[0].tolist())], t_t)
                ps = softmax(student[j][r].tolist(), t_s)
                ce += -sum(a * math.log(c) for a, c in zip(pt, ps))
            total += ce / b
            pairs += 1
    if pairs == 0:
        with pytest.raises(ValueError):
            dino_loss(student, teacher, center, t_s, t_t)
        return
    assert dino_loss(student, teacher, center, t_s, t_t).item() == pytest.approx(total / pairs, rel=1e-4)


def test_dino_center_is_a_moving_mean():
    t = [torch.ones(2, 3), 3 * torch.ones(4, 3)]
    c = updated_center(torch.zeros(1, 3), t, momentum=0.9)
    assert torch.allclose(c, torch.full((1, 3), 0.1 * (2 + 12) / 6))


@pytest.mark.parametrize("k,tau", [(4, 0.07), (16, 0.5)])
def test_instance_nce_matches_a_loop(k, tau):
    torch.manual_seed(k)
    n_data, dim, b = 20, 5, 4
    bank = InstanceBankNCE(dim, n_data=n_data, k=k, temperature=tau, momentum=0.5)
    entries = bank.bank_x.clone()
    f, index = torch.randn(b, dim), torch.tensor([0, 3, 7, 19])
    torch.manual_seed(1)
    loss = bank(f, index)
    torch.manual_seed(1)
    negatives = torch.randint(n_data, (b, k))
    fn = F.normalize(f, dim=1).tolist()
    expo = [[math.exp(sum(a * c for a, c in zip(entries[j].tolist(), fn[r])) / tau)
             for j in [int(index[r])] + negatives[r].tolist()] for r in range(b)]
    z = sum(sum(row) for row in expo) / (b * (k + 1)) * n_data  # Z from the first batch (Eq. 7)
    noise, total = k / n_data, 0.0
    for row in expo:
        p = [v / z for v in row]
        total -= math.log(p[0] / (p[0] + noise + 1e-7)) + sum(math.log(noise / (q + noise + 1e-7)) for q in p[1:])
    assert loss.item() == pytest.approx(total / b, rel=1e-4)
    moved = F.normalize(entries[index] * 0.5 + F.normalize(f, dim=1) * 0.5, dim=1)
    assert torch.allclose(bank.bank_x[index], moved, atol=1e-6)
