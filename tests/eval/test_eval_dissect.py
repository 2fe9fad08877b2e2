import torch
import torch.nn as nn

from multiview.eval.commands.dissect import centred_average, dissect_unit, field_size, unit_maxima

CROSS = torch.tensor([[0, 0, 1, 0, 0],
                      [0, 0, 1, 0, 0],
                      [1, 1, 1, 1, 1],
                      [0, 0, 1, 0, 0],
                      [0, 0, 1, 0, 0]], dtype=torch.float)


class Planted(nn.Module):
    """Four 5x5 units; unit 2 is a matched filter for a bright cross (fires only on it)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 5, padding=2)
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            self.conv.weight.copy_(0.05 * torch.randn(4, 3, 5, 5, generator=g))
            self.conv.bias.zero_()
            template = (CROSS - CROSS.mean()) / (CROSS - CROSS.mean()).norm()
            self.conv.weight[2] = template.expand(3, 5, 5) / 3
            self.conv.bias[2] = -0.5

    def features(self, x):
        return {"conv": torch.relu(self.conv(x))}


def make_images(n=48, with_cross=(3, 11, 20, 29, 40), size=24, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = 0.5 + 0.05 * torch.randn(n, 3, size, size, generator=g)
    where = {}
    for i in with_cross:
        r, c = (int(v) for v in torch.randint(3, size - 3, (2,), generator=g))
        x[i, :, r - 2:r + 3, c - 2:c + 3] += 0.5 * CROSS
        where[i] = (r, c)
    return [{"input": x[i], "label": int(i in where)} for i in range(n)], where


def test_dissection_finds_the_planted_unit_and_pattern():
    model, (data, where) = Planted(), make_images()
    stats = unit_maxima(model, data, "conv")
    has_cross = torch.tensor([d["label"] for d in data]).bool()
    # the planted unit is the one that separates cross images from the rest
    gap = stats["max"][has_cross].min(0).values - stats["max"][~has_cross].max(0).values
    assert int(gap.argmax()) == 2 and gap[2] > 0
    found = dissect_unit(model, "conv", 2, stats, k=len(where), occluder=3)
    assert set(found["top"].tolist()) == set(where)
    assert found["purity"] == 1.0
    for i, centre in zip(found["top"].tolist(), found["centres"]):
        assert tuple(centre.tolist()) == where[i]                      # patch centred on the cross
    # occlusion: the largest drop is on the cross, and the field is about the filter's 5 px
    for i, m in zip(found["top"].tolist(), found["maps"]):
        r, c = divmod(int(m.argmax()), m.shape[1])
        assert abs(r - where[i][0]) <= 1 and abs(c - where[i][1]) <= 1
        assert m[0:2, 0:2].abs().max() < 1e-6 or min(where[i]) < 5     # far corners don't matter
    assert 3 <= found["field"] <= 9


def test_field_size_of_a_box():
    m = torch.zeros(9, 9)
    m[2:7, 3:6] = 1.0
    assert field_size(m) == 5
    avg = centred_average([m], [torch.tensor([4, 4])])
    assert avg.shape == (17, 17) and field_size(avg) == 5
