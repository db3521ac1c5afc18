"""Week 9: self-supervised learning, metric learning, diffusion, and the tie-sharing max-pool of week 8."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils import diffusion as D
from utils import metric_learning as M
from utils import selfsupervised as S
from utils.explain import TieSharingMaxPool2d, lattice_share, saliency_map, share_pooling_ties
from utils.models import EmbeddingNet, TimeUNet, timestep_embedding


# ---- models -------------------------------------------------------------------------------------
def test_model_shapes():
    x = torch.rand(3, 1, 28, 28)
    assert EmbeddingNet((8, 16), dim=12)(x).shape == (3, 12)
    net = EmbeddingNet((8, 16), dim=12, projection=5, normalize=True)
    assert net(x).shape == (3, 5) and net.embed(x).shape == (3, 12)
    assert torch.allclose(net.embed(x).norm(dim=1), torch.ones(3), atol=1e-5)
    unet = TimeUNet((8, 16, 32), time_dim=16)
    assert unet(x, torch.tensor([0, 5, 999])).shape == x.shape
    assert timestep_embedding(torch.arange(4), 8).shape == (4, 8)


def test_the_unet_uses_the_step():
    torch.manual_seed(0)
    unet = TimeUNet((8, 16), time_dim=16).eval()
    x = torch.rand(2, 1, 28, 28)
    assert not torch.allclose(unet(x, torch.tensor([0, 0])), unet(x, torch.tensor([500, 500])))


def test_models_refuse_bad_input():
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        EmbeddingNet((8, 16))(torch.rand(2, 3, 28, 28))
    with pytest.raises(ValueError, match="divisible"):
        TimeUNet((8, 16, 32))(torch.rand(2, 1, 30, 30), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="one step per image"):
        TimeUNet((8, 16))(torch.rand(2, 1, 28, 28), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="even"):
        timestep_embedding(torch.arange(3), 7)
    with pytest.raises(ValueError, match="channels"):
        EmbeddingNet((8,))


# ---- NT-Xent ------------------------------------------------------------------------------------
def test_nt_xent_matches_a_hand_computed_example():
    # two images, 2-D projections: view 1 = (1, 0), (0, 1); view 2 = (1, 0), (0, 1) -> cosine 1 with the
    # positive, 0 with the two negatives. With tau = 1: -log(e / (e + 1 + 1)) for each of the 4 vectors.
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z2 = torch.tensor([[2.0, 0.0], [0.0, 3.0]])  # lengths do not matter: the loss normalises
    expected = -math.log(math.e / (math.e + 2))
    assert S.nt_xent_loss(z1, z2, temperature=1.0).item() == pytest.approx(expected, rel=1e-6)
    # an orthogonal positive: the other view of image 0 is (0, 1), the same as image 1's views
    z2b = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    # vector z1[0]=(1,0): positive z2b[0]=(0,1) s=0; negatives z1[1]=(0,1) s=0, z2b[1]=(1,0) s=1
    by_hand = -math.log(1 / (1 + 1 + math.e))
    assert S.nt_xent_loss(z1, z2b, temperature=1.0).item() == pytest.approx(by_hand, rel=1e-6)


def test_nt_xent_agrees_with_a_loop_and_refuses_bad_input():
    torch.manual_seed(0)
    z1, z2, tau = torch.randn(4, 3), torch.randn(4, 3), 0.3
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    total = 0.0
    for i in range(8):
        positive = (i + 4) % 8
        others = [k for k in range(8) if k != i]
        total += -(z[i] @ z[positive] / tau - torch.logsumexp(torch.stack([z[i] @ z[k] / tau for k in others]), 0))
    assert S.nt_xent_loss(z1, z2, tau).item() == pytest.approx(total.item() / 8, rel=1e-5)
    with pytest.raises(ValueError, match="both be"):
        S.nt_xent_loss(torch.randn(4, 3), torch.randn(5, 3))
    with pytest.raises(ValueError, match="temperature"):
        S.nt_xent_loss(z1, z2, temperature=0)
    with pytest.raises(TypeError):
        S.nt_xent_loss([[1.0]], z2)


def test_views_keep_shape_and_range(tiny_digits):
    images, _ = tiny_digits
    views = S.simclr_views(images[:16], torch.Generator().manual_seed(0))
    assert views.shape == (16, 1, 28, 28) and views.min() >= 0 and views.max() <= 1
    assert not torch.allclose(views, images[:16])


def test_simclr_training_lowers_the_loss(tiny_digits):
    images, _ = tiny_digits
    torch.manual_seed(0)
    model = EmbeddingNet((8, 16), dim=16, projection=8)
    history = S.train_simclr(model, images, seconds=0, max_steps=30, batch_size=32, progress=False)
    assert len(history) == 30 and history["loss"].iloc[-10:].mean() < history["loss"].iloc[:5].mean()
    with pytest.raises(ValueError, match="budget"):
        S.train_simclr(model, images, seconds=0)


def test_knn_and_linear_probe():
    train = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    labels = torch.tensor([0, 0, 1, 1])
    assert S.knn_predict(train, labels, torch.tensor([[1.0, 0.05], [0.05, 1.0]]), k=2).tolist() == [0, 1]
    with pytest.raises(ValueError, match="k must be"):
        S.knn_predict(train, labels, train, k=5)
    layer, table = S.linear_probe(train * 5 + 3, labels, train * 5 + 3, labels, weight_decays=(1e-3,), num_classes=2)
    assert (layer(train * 5 + 3).argmax(1) == labels).all() and table["val_accuracy"].iloc[0] == 1.0
    with pytest.raises(ValueError, match="one label"):
        S.linear_probe(train, labels[:3], train, labels)


# ---- metric learning ----------------------------------------------------------------------------
def test_recall_at_k_on_a_tiny_example():
    gallery = torch.tensor([[0.0], [1.0], [2.0], [10.0]])
    gallery_labels = torch.tensor([0, 1, 0, 1])
    queries = torch.tensor([[0.1], [1.9]])
    query_labels = torch.tensor([1, 1])
    # query 0 (label 1): nearest 0 (label 0), then 1 (label 1): R@1 miss, R@2 hit
    # query 1 (label 1): nearest 2 (label 0), then 1 (label 1): R@1 miss, R@2 hit
    assert M.recall_at_k(queries, query_labels, gallery, gallery_labels, ks=(1, 2)) == {1: 0.0, 2: 1.0}
    # the gallery against itself: 0 -> 1 (hit), 1 -> 0 (hit), 2 -> 1 (miss), 3 -> 2 (hit)
    points, point_labels = torch.tensor([[0.0], [0.5], [2.0], [10.0]]), torch.tensor([0, 0, 1, 1])
    assert M.recall_at_k(points, point_labels, points, point_labels, ks=(1,), exclude_self=True) == {1: 0.75}
    with pytest.raises(ValueError, match="each k"):
        M.recall_at_k(queries, query_labels, gallery, gallery_labels, ks=(5,))
    with pytest.raises(ValueError, match="dimension"):
        M.recall_at_k(torch.zeros(2, 2), query_labels, gallery, gallery_labels)


def test_triplet_loss_by_hand():
    e = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    labels = torch.tensor([0, 0, 1])
    # anchor 0: positive 1 at 1, negative 2 at 3 -> relu(1 - 3 + 0.5) = 0
    # anchor 1: positive 0 at 1, negative 2 at sqrt(10) -> 0; anchor 2 has no positive: skipped
    assert M.batch_hard_triplet_loss(e, labels, margin=0.5).item() == 0.0
    # margin 2.5: anchor 0 -> 0.5, anchor 1 -> 1 - sqrt(10) + 2.5
    expected = (0.5 + (3.5 - math.sqrt(10))) / 2
    assert M.batch_hard_triplet_loss(e, labels, margin=2.5).item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="positive and a negative"):
        M.batch_hard_triplet_loss(e, torch.tensor([0, 1, 2]))


def test_arcface_margin_raises_the_loss():
    torch.manual_seed(0)
    head = M.ArcFaceHead(4, 3, margin=0.0)
    e, labels = torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    plain = head(e, labels)
    head.margin = 0.5
    assert head(e, labels) > plain
    with pytest.raises(ValueError, match="margin"):
        M.ArcFaceHead(4, 3, margin=2.0)


def test_embedding_training_runs(tiny_digits):
    images, labels = tiny_digits
    for loss in ("triplet", "arcface"):
        model = EmbeddingNet((8, 16), dim=16)
        history = M.train_embedding(model, images, labels, loss=loss, max_steps=3, per_class=4, progress=False)
        assert len(history) == 3 and history["loss"].notna().all()
    with pytest.raises(ValueError, match="loss must be"):
        M.train_embedding(model, images, labels, loss="contrastive")


def test_roc_and_threshold():
    distances = torch.tensor([0.1, 0.2, 0.3, 0.4])
    same = torch.tensor([True, True, False, False])
    fpr, tpr, thresholds, auc = M.roc_curve(distances, same)
    assert auc == pytest.approx(1.0) and tpr[-1] == 1 and fpr[-1] == 1 and fpr[0] == 0
    threshold, accuracy = M.best_threshold(distances, same)
    assert 0.2 <= threshold < 0.3 and accuracy == 1.0
    _, _, _, auc_flipped = M.roc_curve(distances, ~same)
    assert auc_flipped == pytest.approx(0.0)
    with pytest.raises(ValueError, match="both"):
        M.roc_curve(distances, torch.ones(4, dtype=torch.bool))


def test_verification_pairs_are_balanced():
    labels = torch.arange(100) % 10
    a, b, same = M.verification_pairs(labels, 200, torch.Generator().manual_seed(0))
    assert len(a) == 200 and int(same.sum()) == 100
    assert ((labels[a] == labels[b]) == same).all() and (a[same] != b[same]).all()
    with pytest.raises(ValueError, match="two different"):
        M.verification_pairs(torch.zeros(5, dtype=torch.long), 4)


# ---- diffusion ----------------------------------------------------------------------------------
def test_closed_form_noising_matches_iterated_noising():
    schedule = D.linear_schedule(100)
    x0 = torch.full((20000, 1), 0.7)
    t = 59
    stepped = D.noise_step_by_step(x0, t, schedule, torch.Generator().manual_seed(0))
    closed = D.q_sample(x0, torch.full((20000,), t), torch.randn(20000, 1, generator=torch.Generator().manual_seed(1)), schedule)
    a = schedule.alpha_bars[t]
    for x in (stepped, closed):  # both N(sqrt(a) x0, 1 - a)
        assert x.mean().item() == pytest.approx((a.sqrt() * 0.7).item(), abs=0.02)
        assert x.var().item() == pytest.approx((1 - a).item(), abs=0.02)
    # without noise the two are the same deterministic shrinkage
    zero_noise = D.NoiseSchedule(torch.full((5,), 1e-12))
    assert torch.allclose(D.noise_step_by_step(x0[:3], 4, zero_noise), x0[:3])


def test_schedules():
    linear = D.linear_schedule(1000)
    assert linear.steps == 1000 and linear.alpha_bars[-1] < 1e-4 and linear.alpha_bars[0] == pytest.approx(1 - 1e-4)
    assert torch.all(linear.alpha_bars[1:] < linear.alpha_bars[:-1])
    cosine = D.cosine_schedule(1000)
    assert torch.all(cosine.alpha_bars[1:] <= cosine.alpha_bars[:-1]) and cosine.alpha_bars[-1] < 1e-3
    with pytest.raises(ValueError, match="between 0 and 1"):
        D.NoiseSchedule(torch.tensor([0.1, 1.5]))
    with pytest.raises(ValueError, match="steps"):
        D.linear_schedule(1)
    with pytest.raises(ValueError, match=r"\[0, 999\]"):
        D.q_sample(torch.zeros(1, 1), torch.tensor([1000]), torch.zeros(1, 1), linear)


def test_ddim_timesteps():
    schedule = D.linear_schedule(1000)
    visited = D.ddim_timesteps(schedule, 10)
    assert visited[0] == 999 and visited[-1] == 0 and len(visited) == 10 and visited == sorted(visited, reverse=True)
    with pytest.raises(ValueError, match="steps must be"):
        D.ddim_timesteps(schedule, 0)


class _Oracle(nn.Module):
    """A perfect noise predictor for a data set of one image x0: eps = (x_t - sqrt(a) x0) / sqrt(1 - a)."""

    def __init__(self, x0: torch.Tensor, schedule: D.NoiseSchedule) -> None:
        super().__init__()
        self.x0, self.bars = x0, schedule.alpha_bars
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = self.bars[t].view(-1, 1, 1, 1)
        return (x - a.sqrt() * self.x0) / (1 - a).sqrt()


def test_samplers_recover_the_only_image():
    schedule = D.linear_schedule(50)
    image = torch.rand(1, 1, 4, 4)
    oracle = _Oracle(image * 2 - 1, schedule)
    for samples in (
        D.ddim_sample(oracle, schedule, 3, steps=5, shape=(1, 4, 4), generator=torch.Generator().manual_seed(0)),
        D.ddpm_sample(oracle, schedule, 3, shape=(1, 4, 4), generator=torch.Generator().manual_seed(0)),
    ):
        assert samples.shape == (3, 1, 4, 4) and torch.allclose(samples, image.expand(3, -1, -1, -1), atol=1e-2)
    with pytest.raises(ValueError, match="n must be"):
        D.ddim_sample(oracle, schedule, 0)


def test_diffusion_training_lowers_the_loss(tiny_digits):
    images, _ = tiny_digits
    torch.manual_seed(0)
    model = TimeUNet((8, 16), time_dim=16)
    ema, history = D.train_diffusion(model, images, D.linear_schedule(100), seconds=0, max_steps=40, batch_size=32,
                                     lr=3e-3, progress=False)
    assert len(history) == 40 and history["loss"].iloc[-10:].mean() < history["loss"].iloc[:3].mean()
    assert ema is not model and not any(p.requires_grad for p in ema.parameters())
    with pytest.raises(ValueError, match="float batch"):
        D.train_diffusion(model, images[:, 0], D.linear_schedule(10), seconds=1)


# ---- week 8's saliency lattice --------------------------------------------------------------------
def test_tie_sharing_max_pool_same_output_shared_gradient():
    x = torch.tensor([[[[1.0, 1.0], [1.0, 0.0]]]], requires_grad=True)
    out = TieSharingMaxPool2d(2)(x)
    assert out.item() == 1.0
    out.backward()
    assert torch.allclose(x.grad, torch.tensor([[[[1 / 3, 1 / 3], [1 / 3, 0.0]]]]))
    y = x.detach().clone().requires_grad_(True)
    nn.MaxPool2d(2)(y).backward()
    assert y.grad[0, 0, 0, 0] == 1.0 and y.grad.sum() == 1.0  # PyTorch's: all to the first maximum
    z = torch.randn(2, 3, 9, 9)
    assert torch.allclose(TieSharingMaxPool2d(2)(z), F.max_pool2d(z, 2))
    with pytest.raises(ValueError, match="kernel_size"):
        TieSharingMaxPool2d(0)


def test_share_pooling_ties_removes_the_lattice():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 8 * 8, 3))
    blank = torch.zeros(2, 1, 16, 16)
    twin = share_pooling_ties(model)
    assert torch.allclose(model(blank), twin(blank)) and isinstance(model[2], nn.MaxPool2d)
    mask = torch.ones(16, 16, dtype=torch.bool)
    mask[[0, -1], :] = mask[:, [0, -1]] = False  # away from the zero padding
    plain = lattice_share(saliency_map(model, blank, target=0), mask)
    shared = lattice_share(saliency_map(twin, blank, target=0), mask)
    assert plain.max() > 0.4 and (shared - 0.25).abs().max() < 0.1
    with pytest.raises(ValueError, match="stride"):
        share_pooling_ties(nn.Sequential(nn.MaxPool2d(3, stride=1)))
    with pytest.raises(ValueError, match="mask"):
        lattice_share(torch.zeros(1, 4, 4), torch.ones(3, 3, dtype=torch.bool))


# ---- style ----------------------------------------------------------------------------------------
def test_gram_matrix_by_hand():
    from utils.style import gram_matrix

    f = torch.tensor([[[[1.0, 0.0]], [[2.0, 1.0]]]])  # 2 channels, 1x2 map
    assert torch.allclose(gram_matrix(f), torch.tensor([[[0.5, 1.0], [1.0, 2.5]]]))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        gram_matrix(torch.zeros(2, 3))


def test_texture_synthesis_lowers_the_gram_loss():
    from utils.style import RandomFilters, synthesize

    torch.manual_seed(0)
    texture = (torch.arange(16.0).view(1, 1, 4, 4).repeat(1, 1, 4, 4) % 2).float()  # stripes 16x16
    net = RandomFilters(sizes=(3,), per_size=8)
    image, history = synthesize(net, texture, steps=60, lr=0.05)
    assert image.shape == texture.shape and 0 <= image.min() and image.max() <= 1
    assert history["loss"].iloc[-1] < 0.5 * history["loss"].iloc[0]
    with pytest.raises(ValueError, match="odd"):
        RandomFilters(sizes=(4,))
    with pytest.raises(ValueError, match="one image"):
        synthesize(net, torch.zeros(2, 1, 4, 4))
