import pytest
import torch

from utils import scenes


@pytest.fixture(scope="module")
def train_scenes():
    return scenes.make_scenes(40, "train", seed=1)


def test_same_seed_same_scenes_other_seed_other_scenes(train_scenes):
    again = scenes.make_scenes(40, "train", seed=1)
    assert torch.equal(again.images, train_scenes.images)
    assert all(torch.equal(a, b) for a, b in zip(again.boxes, train_scenes.boxes))
    assert not torch.equal(scenes.make_scenes(40, "train", seed=2).images, train_scenes.images)


def test_shapes_ranges_and_digit_counts(train_scenes):
    assert train_scenes.images.shape == (40, 1, 96, 96)
    assert 0 <= train_scenes.images.min() and train_scenes.images.max() <= 1
    assert train_scenes.semantic_masks.shape == (40, 96, 96)
    assert train_scenes.semantic_masks.max() < scenes.NUM_SEMANTIC_CLASSES
    counts = [len(labels) for labels in train_scenes.labels]
    assert min(counts) >= 1 and max(counts) <= 5 and len(set(counts)) > 2


def test_masks_and_boxes_agree(train_scenes):
    for i in range(len(train_scenes)):
        boxes, labels = train_scenes.boxes[i], train_scenes.labels[i]
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
        assert (boxes >= 0).all() and (boxes <= 96).all()
        target = train_scenes.target(i)
        for k, (box, label) in enumerate(zip(boxes, labels)):
            mask = target["masks"][k].bool()
            ys, xs = mask.nonzero(as_tuple=True)
            assert mask.any(), "every digit keeps some visible stroke"
            x0, y0, x1, y1 = box.tolist()
            assert xs.min() >= x0 and xs.max() < x1 and ys.min() >= y0 and ys.max() < y1
            assert (train_scenes.semantic_masks[i][mask] == label + 1).all()
        assert ((train_scenes.semantic_masks[i] > 0) == (train_scenes.instance_masks[i] > 0)).all()


def test_train_and_test_scenes_use_their_own_split():
    train, test = scenes.make_scenes(30, "train", seed=0), scenes.make_scenes(30, "test", seed=0)
    assert train.split == "train" and test.split == "test"
    assert max(int(s.max()) for s in test.source_indices) < 10000
    from utils import load_mnist

    test_digits, test_labels = load_mnist("test")
    for i in range(5):
        assert torch.equal(test.labels[i], test_labels[test.source_indices[i]])
    train_labels = load_mnist("train")[1]
    for i in range(5):
        assert torch.equal(train.labels[i], train_labels[train.source_indices[i]])


@pytest.mark.parametrize("kwargs,message", [
    ({"split": "val"}, "split must be"),
    ({"n": 0}, "n must be"),
    ({"min_digits": 3, "max_digits": 2}, "min_digits"),
    ({"max_size": 200}, "max_size"),
])
def test_bad_arguments(kwargs, message):
    arguments = {"n": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        scenes.make_scenes(**arguments)


def test_excluded_sources_are_never_drawn_and_the_default_is_unchanged():
    train = scenes.make_scenes(60, "train", seed=0)
    val = scenes.make_scenes(60, "train", seed=7, exclude_sources=train.source_indices)
    used_by_train = set(torch.cat(train.source_indices).tolist())
    assert used_by_train and not used_by_train & set(torch.cat(val.source_indices).tolist())
    # the same exclusion given as one tensor gives the same scenes; no exclusion keeps the old draws
    again = scenes.make_scenes(60, "train", seed=7, exclude_sources=torch.cat(train.source_indices))
    assert torch.equal(again.images, val.images)
    assert torch.equal(scenes.make_scenes(5, "train", seed=7, exclude_sources=[]).images,
                       scenes.make_scenes(5, "train", seed=7).images)
    from utils import load_mnist

    train_labels = load_mnist("train")[1]
    for labels, sources in zip(val.labels, val.source_indices):
        assert torch.equal(labels, train_labels[sources])


def test_only_one_digit_left_to_draw():
    everything_but_one = torch.cat([torch.arange(0, 123), torch.arange(124, 10000)])
    few = scenes.make_scenes(3, "test", seed=0, exclude_sources=everything_but_one)
    assert set(torch.cat(few.source_indices).tolist()) == {123}


@pytest.mark.parametrize("exclude,message", [
    (torch.tensor([10000]), "must lie in"),
    (torch.tensor([-1]), "must lie in"),
    (torch.tensor([0.5]), "integer"),
    (torch.arange(10000), "leaves no digit"),
])
def test_bad_exclusions(exclude, message):
    with pytest.raises(ValueError, match=message):
        scenes.make_scenes(2, "test", exclude_sources=exclude)
