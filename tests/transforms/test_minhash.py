import pytest

from refinery.transforms.minhash import LshBands, optimal_bands


@pytest.mark.parametrize(
    ("threshold", "num_perm", "expected"),
    # datasketch's MinHashLSH(threshold, num_perm).b, .r for the same inputs
    [(0.8, 128, LshBands(9, 13)), (0.5, 128, LshBands(25, 5)), (0.9, 256, LshBands(9, 28))],
)
def test_bands_match_datasketch(threshold, num_perm, expected):
    assert optimal_bands(threshold, num_perm) == expected


def test_collision_probability_is_an_s_curve_around_the_threshold():
    bands = optimal_bands(0.8, 128)
    assert bands.bands * bands.rows <= 128
    assert bands.collision_probability(0.95) > 0.99
    assert bands.collision_probability(0.5) < 0.01


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="threshold"):
        optimal_bands(1.5, 128)
