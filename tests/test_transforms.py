from __future__ import annotations

import numpy as np
import pytest

from ts_resnet.data import Augment, PreprocessConfig, Preprocessor, Record, SignalReadError
from ts_resnet.data.transforms import (
    bandpass_filter,
    fit_channel_stats,
    num_windows,
    pad_or_crop,
    resample,
    sliding_windows,
)


def dominant_hz(x: np.ndarray, fs: float) -> float:
    spec = np.abs(np.fft.rfft(x - x.mean()))
    return float(np.fft.rfftfreq(x.size, 1 / fs)[spec.argmax()])


@pytest.mark.parametrize("fs_in,fs_out", [(500, 100), (360, 100), (100, 257), (1000, 500)])
def test_resampling_preserves_sine_frequency(fs_in, fs_out):
    t = np.arange(int(10 * fs_in)) / fs_in
    x = np.sin(2 * np.pi * 7.0 * t)[None].astype(np.float32)
    y = resample(x, fs_in, fs_out)
    assert y.shape[-1] == pytest.approx(10 * fs_out, abs=1)
    assert dominant_hz(y[0], fs_out) == pytest.approx(7.0, abs=0.15)


@pytest.mark.parametrize("fs_in,fs_out", [(500, 100), (360, 100), (100, 257), (257, 100)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resampling_equals_scipy_default_filter(fs_in, fs_out, dtype):
    """The anti-aliasing filter is designed once per rate pair, not per record: the samples must be
    exactly what ``scipy.signal.resample_poly`` gives with its own default design."""
    from fractions import Fraction

    from scipy import signal as sps

    from ts_resnet.data.transforms import decimate

    x = np.random.default_rng(fs_in).standard_normal((3, 2 * fs_in + 7)).astype(dtype)
    q = Fraction(fs_out / fs_in).limit_denominator(1000)
    for _ in range(2):  # the second call uses the cached taps
        expected = sps.resample_poly(x, q.numerator, q.denominator, axis=-1).astype(np.float32)
        np.testing.assert_array_equal(resample(x, fs_in, fs_out), expected)
    np.testing.assert_array_equal(decimate(x, 3), sps.resample_poly(x, 1, 3, axis=-1).astype(np.float32))


def test_bandpass_removes_baseline_wander():
    fs = 100.0
    t = np.arange(int(60 * fs)) / fs
    ecg_like = 0.5 * np.sin(2 * np.pi * 10 * t)
    wander = 2.0 * np.sin(2 * np.pi * 0.1 * t)
    y = bandpass_filter((ecg_like + wander)[None].astype(np.float32), fs, 0.5, 40.0)[0]
    spec = np.abs(np.fft.rfft(y))
    freqs = np.fft.rfftfreq(y.size, 1 / fs)
    at = lambda f: spec[np.argmin(np.abs(freqs - f))]  # noqa: E731
    raw = np.abs(np.fft.rfft(ecg_like + wander))
    assert at(0.1) < 0.02 * raw[np.argmin(np.abs(freqs - 0.1))]  # wander removed (>34 dB)
    assert at(10.0) > 0.9 * raw[np.argmin(np.abs(freqs - 10.0))]  # signal kept
    assert np.abs(y[1000:-1000] - ecg_like[1000:-1000]).max() < 0.05


def test_lead_selection_case_insensitive_and_missing():
    sig = np.arange(12, dtype=np.float32).reshape(3, 4)
    rec = Record(sig, 100.0, ["I", "avr", "V1"], path="x.hea")
    pre = Preprocessor(PreprocessConfig(leads=["V1", "aVR", "I"], normalize="none"))
    np.testing.assert_array_equal(pre(rec), sig[[2, 1, 0]])
    pre = Preprocessor(PreprocessConfig(leads=["I", "II", "V1"], normalize="none"))
    with pytest.raises(SignalReadError, match=r"missing leads \['II'\]"):
        pre(rec)
    filled = Preprocessor(PreprocessConfig(leads=["I", "II", "V1"], fill_missing_leads="zero", normalize="none"))(rec)
    np.testing.assert_array_equal(filled[1], 0)
    np.testing.assert_array_equal(filled[2], sig[2])


def test_dataset_statistics_come_from_train_only():
    from ts_resnet.data.modules import SyntheticECGDataModule

    dm = SyntheticECGDataModule(num_records=60, preprocess=PreprocessConfig(fs=100.0, normalize="dataset"))
    dm.setup("fit")
    train = np.concatenate([np.asarray(s) for s in dm.splits["train"].signals], axis=-1)
    everything = np.concatenate([np.asarray(s) for sp in dm.splits.values() for s in sp.signals], axis=-1)
    np.testing.assert_allclose(dm.preprocess.mean, train.mean(-1), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(dm.preprocess.std, train.std(-1), rtol=1e-4)
    assert not np.allclose(dm.preprocess.mean, everything.mean(-1), rtol=1e-6, atol=1e-9)
    # and the stored config replays them
    assert dm.inference_config()["preprocess"]["mean"] == dm.preprocess.mean


def test_fit_channel_stats_matches_numpy():
    rng = np.random.default_rng(0)
    parts = [rng.normal(3, 2, size=(2, n)).astype(np.float32) for n in (100, 250, 40)]
    mean, std = fit_channel_stats(parts)
    whole = np.concatenate(parts, -1)
    np.testing.assert_allclose(mean, whole.mean(-1), rtol=1e-5)
    np.testing.assert_allclose(std, whole.std(-1), rtol=1e-5)


def test_zscore_and_config_round_trip():
    cfg = PreprocessConfig(fs=250.0, leads=["I"], bandpass=(0.5, 40.0))
    assert PreprocessConfig.from_dict(cfg.to_dict()) == cfg
    x = np.random.default_rng(0).normal(5, 3, size=(1, 1000)).astype(np.float32)
    y = Preprocessor(PreprocessConfig())(Record(x, 100.0, ["I"]))
    assert abs(y.mean()) < 1e-4 and abs(y.std() - 1) < 1e-3
    with pytest.raises(ValueError, match="unknown preprocessing"):
        PreprocessConfig.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="normalize must be one of .*got 'zcore'"):
        PreprocessConfig(normalize="zcore")  # a typo would otherwise train on raw values


def test_zscore_level_keeps_level_and_amplitude_beside_the_zscore():
    # Two series with the same shape at different levels and amplitudes: the z-score alone maps them to
    # the same input; the level half tells them apart, with the training-set statistics.
    t = np.linspace(0, 4 * np.pi, 200)
    low, high = np.sin(t)[None] + 1.0, 5 * np.sin(t)[None] + 40.0
    cfg = PreprocessConfig(normalize="zscore_level", mean=[20.0], std=[10.0])
    assert cfg.channel_factor == 2 and cfg.uses_dataset_stats
    assert PreprocessConfig(normalize="zscore").channel_factor == 1 and not PreprocessConfig().uses_dataset_stats
    pre = Preprocessor(cfg)
    a, b = (pre(Record(x.astype(np.float32), 1.0, ["ch0"])) for x in (low, high))
    assert a.shape == b.shape == (2, 200) and a.dtype == np.float32
    np.testing.assert_allclose(a[0], b[0], atol=1e-5)  # the z-scored channel: same shape, same input
    np.testing.assert_allclose(a[1], (low[0] - 20) / 10, atol=1e-5)
    np.testing.assert_allclose(b[1], (high[0] - 20) / 10, atol=1e-5)
    # multichannel: all z-scored channels first, then all standardised ones
    two = np.stack([low[0], high[0]]).astype(np.float32)
    out = Preprocessor(PreprocessConfig(normalize="zscore_level", mean=[0.0, 40.0], std=[1.0, 5.0]))(
        Record(two, 1.0, ["a", "b"]))
    np.testing.assert_allclose(out[2:], [low[0], np.sin(t)], atol=1e-5)
    with pytest.raises(ValueError, match="zscore_level.*needs mean and std"):
        Preprocessor(PreprocessConfig(normalize="zscore_level"))(Record(two, 1.0, ["a", "b"]))
    with pytest.raises(ValueError, match="statistics are for 1 channels, signal has 2"):
        pre(Record(two, 1.0, ["a", "b"]))


def test_windows_cover_the_tail_and_pad_short_records():
    x = np.arange(2 * 1000, dtype=np.float32).reshape(2, 1000)
    w = sliding_windows(x, 250, 125)
    assert w.shape == (num_windows(1000, 250, 125), 2, 250) == (7, 2, 250)
    np.testing.assert_array_equal(w[-1], x[:, -250:])
    w = sliding_windows(x, 300, 300)
    np.testing.assert_array_equal(w[-1], x[:, -300:])
    assert w.shape[0] == num_windows(1000, 300, 300) == 4
    short = sliding_windows(x[:, :100], 250, 125)
    assert short.shape == (1, 2, 250) and (short[0, :, 100:] == 0).all()
    assert pad_or_crop(x, 10, start=5)[0, 0] == 5


def test_augment_changes_signal_only_when_active():
    rng = np.random.default_rng(0)
    x = np.ones((3, 500), dtype=np.float32)
    assert Augment()(x, rng, 100.0) is x
    y = Augment(noise_std=0.1, scale=0.2, wander=0.3, max_shift=10, lead_dropout=0.5)(x, rng, 100.0)
    assert y.shape == x.shape and not np.allclose(y, x)
    assert (np.abs(y).sum(1) > 0).any()  # at least one lead kept


def test_crop_resize_stretches_a_random_window_back_to_full_length():
    t = 201
    ramp = np.tile(np.arange(t, dtype=np.float32), (2, 1))  # sample index as value: shows what was kept
    spans = []
    for seed in range(20):
        y = Augment(crop_resize=0.2)(ramp, np.random.default_rng(seed), 100.0)
        assert y.shape == ramp.shape and y.dtype == np.float32
        np.testing.assert_allclose(y[0], y[1])  # every channel gets the same window
        d = np.diff(y[0])
        np.testing.assert_allclose(d, d[0], rtol=1e-4)  # a linear stretch, not a reordering
        assert y[0, 0] >= 0 and y[0, -1] <= t - 1
        spans.append(y[0, -1] - y[0, 0])
    spans = np.array(spans)
    # between 80% and 100% of the series kept, and the draw varies
    assert (spans >= 0.8 * (t - 1) - 1e-3).all() and (spans <= t - 1 + 1e-3).all() and spans.std() > 1
    assert Augment(crop_resize=0.2)(ramp[:, :2], np.random.default_rng(0), 100.0).shape == (2, 2)
    with pytest.raises(ValueError, match="crop_resize"):
        Augment(crop_resize=1.0)


def test_time_warp_reads_the_series_at_a_smooth_positive_speed_with_the_ends_fixed():
    t = 201
    ramp = np.tile(np.arange(t, dtype=np.float32), (2, 1))  # sample index as value: y is where it read
    slopes = []
    for seed in range(20):
        y = Augment(time_warp=0.2)(ramp, np.random.default_rng(seed), 1.0)
        assert y.shape == ramp.shape and y.dtype == np.float32
        np.testing.assert_allclose(y[0], y[1])  # every channel gets the same warp
        assert y[0, 0] == pytest.approx(0.0, abs=1e-4) and y[0, -1] == pytest.approx(t - 1, abs=1e-3)
        d = np.diff(y[0])
        assert (d > 0).all()  # monotone: nothing is read backwards or twice
        # smooth: one sample moves the speed by a small part of its range (a window warp's jump: all of it)
        assert np.abs(np.diff(d)).max() < 0.25 * (d.max() - d.min())
        slopes.append((d.min(), d.max()))
    slopes = np.array(slopes)
    assert slopes[:, 0].min() < 0.9 and slopes[:, 1].max() > 1.1  # it does warp
    assert Augment(time_warp=0.2)(ramp[:, :2], np.random.default_rng(0), 1.0).shape == (2, 2)
    with pytest.raises(ValueError, match="time_warp"):
        Augment(time_warp=-0.1)


def test_window_warp_plays_one_window_at_half_or_double_speed():
    t = 200
    ramp = np.tile(np.arange(t, dtype=np.float32), (3, 1))
    factors = set()
    for seed in range(20):
        y = Augment(window_warp=0.1)(ramp, np.random.default_rng(seed), 1.0)
        assert y.shape == ramp.shape and y.dtype == np.float32
        np.testing.assert_allclose(y[0], y[2])
        assert y[0, 0] == pytest.approx(0.0) and y[0, -1] == pytest.approx(t - 1, abs=1e-3)
        d = np.diff(y[0])
        assert (d > 0).all()
        # the window's speed relative to the rest: 2 (played faster) or 1/2 (slower)
        ratio = d.max() / d.min()
        assert ratio == pytest.approx(2.0, rel=0.1)  # either way the window runs at 2x or 1/2x the rest
        inside = d.max() if np.isclose(d, d.max(), rtol=0.05).sum() < np.isclose(d, d.min(), rtol=0.05).sum() \
            else d.min()
        factors.add("fast" if inside == d.max() else "slow")
    assert factors == {"fast", "slow"}  # both directions are drawn
    with pytest.raises(ValueError, match="window_warp"):
        Augment(window_warp=1.0)


def test_position_channel_is_one_ramp_after_the_signal_channels():
    x = np.random.default_rng(0).normal(size=(2, 50)).astype(np.float32)
    cfg = PreprocessConfig(position=True, derivative=True)
    assert cfg.input_channels(2) == 5 and PreprocessConfig().input_channels(2) == 2
    out = Preprocessor(cfg)(Record(x, 1.0, ["a", "b"]))
    assert out.shape == (5, 50) and out.dtype == np.float32
    np.testing.assert_allclose(out[:4], Preprocessor(PreprocessConfig(derivative=True))(Record(x, 1.0, ["a", "b"])))
    np.testing.assert_allclose(out[4], np.linspace(-1, 1, 50), atol=1e-6)  # the series' own length
    assert Preprocessor(cfg)(Record(x[:, :1], 1.0, ["a", "b"]))[4].tolist() == [0.0]
    old = {k: v for k, v in PreprocessConfig().to_dict().items() if k != "position"}
    assert PreprocessConfig.from_dict(old).position is False  # checkpoints written before the option


def test_derivative_channel_is_the_slope_scaled_on_its_own():
    t = np.linspace(0, 4 * np.pi, 400)
    x = (3 * np.sin(t) + 10)[None].astype(np.float32)
    cfg = PreprocessConfig(derivative=True)
    assert cfg.channel_factor == 2 and not cfg.uses_dataset_stats
    out = Preprocessor(cfg)(Record(x, 1.0, ["ch0"]))
    assert out.shape == (2, 400) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], Preprocessor(PreprocessConfig())(Record(x, 1.0, ["ch0"]))[0])
    cos = np.cos(t)
    np.testing.assert_allclose(out[1], (cos - cos.mean()) / cos.std(), atol=2e-3)  # d/dt sin = cos, z-scored
    # with level channels: z-score, level, then one slope per signal channel (a level channel's slope,
    # z-scored, would be the same numbers again)
    lvl = PreprocessConfig(normalize="zscore_level", mean=[10.0], std=[2.0], derivative=True)
    assert lvl.channel_factor == 3
    out3 = Preprocessor(lvl)(Record(x, 1.0, ["ch0"]))
    assert out3.shape == (3, 400)
    np.testing.assert_allclose(out3[2], out[1])
    # a flat series and a one-sample series give a zero slope, not NaN
    flat = Preprocessor(cfg)(Record(np.full((2, 50), 7.0, np.float32), 1.0, ["a", "b"]))
    assert flat.shape == (4, 50) and np.isfinite(flat).all() and (flat[2:] == 0).all()
    assert Preprocessor(cfg)(Record(np.ones((1, 1), np.float32), 1.0, ["a"])).shape == (2, 1)
    # checkpoints written before the option load without it
    old = {k: v for k, v in PreprocessConfig().to_dict().items() if k != "derivative"}
    assert PreprocessConfig.from_dict(old).derivative is False
