"""Hepatobiliary-phase-like volumes drawn from a patient's traits.

A gadoxetic-acid HBP image is a fat-suppressed T1 volume taken about 20 minutes after
injection: functioning liver parenchyma is bright, HCC (which has lost its hepatocyte
uptake) is dark, vessels are dark. The phantom draws, in millimetres of patient space,
a field of view over the right upper abdomen:

- body wall (fat-suppressed subcutaneous fat, muscle) and other abdominal tissue;
- the liver, a smoothly deformed ellipsoid, with fine texture and dark vessels;
- the index tumour (the mask): an ellipsoid of the recorded longest diameter, randomly
  oriented, its surface perturbed by smooth noise whose amplitude and frequency rise with
  *margin irregularity*; its interior textured and partly necrotic in proportion to
  *heterogeneity*;
- a hypointense peritumoural rim when *peritumoural hypointensity* is present;
- satellite nodules next to the index tumour; further tumours elsewhere in the liver
  when tumour_number > 1 (not in the mask: the mask marks the index lesion only);
- then the scanner: point-spread blur, a smooth multiplicative bias field, Rician noise,
  and the scanner's intensity scale, stored as 16-bit integers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import fft as sp_fft
from scipy import ndimage
from scipy.spatial.transform import Rotation
from scipy.special import ndtr

from .scanners import Scanner

__all__ = ["CaseTraits", "Grid", "render_case", "smooth_noise"]

# Relative signal of each tissue (functioning liver = 1).
_AIR, _FAT, _MUSCLE, _OTHER, _VESSEL = 0.02, 0.22, 0.35, 0.45, 0.30
_TUMOUR, _NECROSIS, _SATELLITE = 0.38, 0.16, 0.42


@dataclass(frozen=True)
class Grid:
    """A voxel grid: ``shape`` and ``spacing`` as (x, y, z), centred on the origin of the
    field of view, axes aligned with the patient (LPS, identity direction)."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]

    @property
    def origin(self) -> tuple[float, float, float]:
        x, y, z = (-(n - 1) / 2.0 * s for n, s in zip(self.shape, self.spacing, strict=True))
        return x, y, z

    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Coordinates in mm, broadcastable in (z, y, x) array order: (Z, Y, X)."""
        x, y, z = (o + s * np.arange(n, dtype=np.float32)
                   for o, s, n in zip(self.origin, self.spacing, self.shape, strict=True))
        return z[:, None, None], y[None, :, None], x[None, None, :]


@dataclass(frozen=True)
class CaseTraits:
    """What the phantom needs to know about one patient."""

    tumor_size_cm: float
    tumor_number: int
    heterogeneity: float
    margin_irregularity: float
    peritumoural_hypointensity: bool
    satellite_nodules: int


def smooth_noise(shape_zyx: tuple[int, ...], spacing_zyx: tuple[float, ...], corr_mm: float,
                 rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-variance Gaussian random field with correlation length ``corr_mm``.

    White noise filtered in the Fourier domain by a Gaussian of standard deviation
    ``corr_mm / 2``: one inverse FFT, far cheaper than a wide spatial filter. The field is
    periodic over the (slightly padded) grid, which nothing drawn from it can show.
    """
    shape = np.asarray(shape_zyx)
    spacing = np.asarray(spacing_zyx, dtype=float)
    padded = [sp_fft.next_fast_len(int(n), real=True) for n in shape]
    half = (padded[0], padded[1], padded[2] // 2 + 1)
    spectrum = (rng.standard_normal(half, dtype=np.float32)
                + 1j * rng.standard_normal(half, dtype=np.float32)).astype(np.complex64)
    sigma = corr_mm / 2.0
    kz, ky = (sp_fft.fftfreq(n, d=s).astype(np.float32) for n, s in zip(padded[:2], spacing[:2], strict=True))
    kx = sp_fft.rfftfreq(padded[2], d=spacing[2]).astype(np.float32)
    scale = np.float32(-2.0 * (np.pi * sigma) ** 2)
    gain = np.exp(scale * (kz[:, None, None] ** 2 + ky[None, :, None] ** 2 + kx[None, None, :] ** 2))
    field = sp_fft.irfftn(spectrum * gain, s=padded, workers=1)
    field = field[:shape[0], :shape[1], :shape[2]]
    field = field - field.mean()
    sd = field.std()
    return np.ascontiguousarray(field / sd if sd > 0 else field, dtype=np.float32)


def _fine_noise(shape: tuple[int, ...], spacing_zyx: tuple[float, ...], corr_mm: float,
                rng: np.random.Generator) -> np.ndarray:
    sigma = [max(corr_mm / s, 0.3) for s in spacing_zyx]
    field = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    sd = field.std()
    return (field - field.mean()) / sd if sd > 0 else field


def _ellipsoid_level(zyx: tuple[np.ndarray, ...], centre: np.ndarray, axes_mm: np.ndarray,
                     rotation: np.ndarray) -> np.ndarray:
    """sqrt(sum(((R^T (p - c))_i / a_i)^2)): < 1 inside the ellipsoid. ``centre``, ``axes_mm``
    and the rotation's frame are in (x, y, z)."""
    z, y, x = zyx
    d = (x - centre[0], y - centre[1], z - centre[2])
    total = 0.0
    for i in range(3):
        u = rotation[0, i] * d[0] + rotation[1, i] * d[1] + rotation[2, i] * d[2]
        total = total + (u / axes_mm[i]) ** 2
    return np.sqrt(total)


class _Canvas:
    """The signal volume with its coordinates, drawn into region by region."""

    def __init__(self, grid: Grid):
        self.grid = grid
        self.spacing_zyx = tuple(reversed(grid.spacing))
        self.shape_zyx = tuple(reversed(grid.shape))
        self.zyx = grid.axes()
        self.signal = np.full(self.shape_zyx, _AIR, dtype=np.float32)

    def box(self, centre: np.ndarray, radius_mm: float) -> tuple[slice, slice, slice] | None:
        """Index slices (z, y, x) of the cube of half-width ``radius_mm`` around ``centre``."""
        out = []
        for axis, c in zip((0, 1, 2), centre[::-1], strict=True):
            coords = self.zyx[axis].ravel()
            lo = np.searchsorted(coords, c - radius_mm)
            hi = np.searchsorted(coords, c + radius_mm, side="right")
            if hi - lo < 1:
                return None
            out.append(slice(int(lo), int(hi)))
        return out[0], out[1], out[2]

    def sub(self, box: tuple[slice, ...]) -> tuple[np.ndarray, ...]:
        z, y, x = self.zyx
        return z[box[0]], y[:, box[1]], x[:, :, box[2]]


def _draw_lesion(canvas: _Canvas, liver: np.ndarray, centre: np.ndarray, diameter_mm: float,
                 traits: CaseTraits, rng: np.random.Generator, *, index: bool) -> np.ndarray | None:
    """Draw one tumour; return its mask (full grid, bool) for the index lesion."""
    a = diameter_mm / 2.0
    axes_mm = np.array([a, a * rng.uniform(0.75, 0.95), a * rng.uniform(0.70, 0.90)])
    rotation = Rotation.random(rng=rng).as_matrix()
    irregular = float(ndtr(traits.margin_irregularity))
    hetero = float(ndtr(traits.heterogeneity))
    rim_mm = 8.0
    box = canvas.box(centre, a * 1.45 + rim_mm + 2 * max(canvas.grid.spacing))
    if box is None:
        return None
    zyx = canvas.sub(box)
    shape = tuple(s.stop - s.start for s in box)
    level = _ellipsoid_level(zyx, centre, axes_mm, rotation)
    # Lobulated margin: smooth noise on the level set, finer and stronger when irregular.
    corr = max(diameter_mm / 5.0, 4.0) * (1.3 - 0.7 * irregular)
    level = level + (0.03 + 0.27 * irregular) * smooth_noise(shape, canvas.spacing_zyx, corr, rng)
    inside = level < 1.0

    region = canvas.signal[box]
    in_liver = liver[box]
    if traits.peritumoural_hypointensity:
        width = rim_mm / a
        rim = (level >= 1.0) & (level < 1.0 + width) & in_liver
        depth = 0.40 * (1.0 - (level - 1.0) / width)
        region[rim] *= (1.0 - depth[rim]).astype(np.float32)
    texture_fine = _fine_noise(shape, canvas.spacing_zyx, 2.5, rng)
    texture_coarse = smooth_noise(shape, canvas.spacing_zyx, 9.0, rng)
    amplitude = 0.02 + 0.20 * hetero
    lesion = _TUMOUR + amplitude * (0.6 * texture_fine + 0.8 * texture_coarse)
    necrotic = texture_coarse > (2.0 - 1.8 * hetero)
    lesion = np.where(necrotic, _NECROSIS + 0.02 * texture_fine, lesion)
    region[inside] = np.clip(lesion[inside], 0.05, None)

    if not index:
        return None
    mask = np.zeros(canvas.shape_zyx, dtype=bool)
    mask[box] = inside
    return mask


def _place_in_liver(liver_level: np.ndarray, canvas: _Canvas, rng: np.random.Generator,
                    liver_centre: np.ndarray, liver_axes: np.ndarray, spread: float,
                    avoid: Sequence[tuple[np.ndarray, float]] = (), tries: int = 30) -> np.ndarray | None:
    for _ in range(tries):
        p = liver_centre + rng.uniform(-spread, spread, 3) * liver_axes
        ijk = [int(np.clip(np.searchsorted(canvas.zyx[ax].ravel(), p[2 - ax]), 0,
                           canvas.shape_zyx[ax] - 1)) for ax in range(3)]
        if liver_level[tuple(ijk)] >= 0.85:
            continue
        if all(np.linalg.norm(p - c) > r for c, r in avoid):
            return p
    return None


def render_case(traits: CaseTraits, grid: Grid, scanner: Scanner,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw one patient's HBP volume and index-tumour mask.

    Returns
    -------
    image : numpy.ndarray of int16, shape (z, y, x)
    mask : numpy.ndarray of uint8, shape (z, y, x); 1 = index tumour
    """
    canvas = _Canvas(grid)
    z, y, x = canvas.zyx
    # Body: an elliptical cross-section centred 60 mm to the patient's left of the field
    # of view, so the right lateral wall shows at the image's left edge.
    body = np.sqrt(((x - 60.0) / 175.0) ** 2 + (y / 125.0) ** 2)
    signal = canvas.signal
    layers = np.where(body < 1.0, _FAT, _AIR)
    layers = np.where(body < 1.0 - 12.0 / 150.0, _MUSCLE, layers)
    layers = np.where(body < 1.0 - 22.0 / 150.0, _OTHER, layers)
    signal[...] = np.broadcast_to(layers, signal.shape)
    other = body < 1.0 - 22.0 / 150.0
    signal += (0.06 * smooth_noise(canvas.shape_zyx, canvas.spacing_zyx, 20.0, rng)) * other

    liver_centre = np.array([-25.0, 0.0, 0.0]) + rng.normal(0.0, 4.0, 3)
    liver_axes = np.array([80.0, 75.0, 70.0]) * rng.uniform(0.92, 1.08, 3)
    liver_level = _ellipsoid_level(canvas.zyx, liver_centre, liver_axes, np.eye(3))
    liver_level += 0.12 * smooth_noise(canvas.shape_zyx, canvas.spacing_zyx, 50.0, rng)
    liver = liver_level < 1.0
    liver_signal = 1.0 + 0.025 * _fine_noise(canvas.shape_zyx, canvas.spacing_zyx, 3.0, rng)
    # Vessels: where two smooth fields both cross zero, a network of curved tubes.
    v1 = smooth_noise(canvas.shape_zyx, canvas.spacing_zyx, 40.0, rng)
    v2 = smooth_noise(canvas.shape_zyx, canvas.spacing_zyx, 40.0, rng)
    vessel = (np.abs(v1) < 0.12) & (np.abs(v2) < 0.12) & (liver_level < 0.9)
    liver_signal = np.where(vessel, _VESSEL, liver_signal)
    signal[liver] = liver_signal[liver]

    # Index tumour, then satellites and further tumours around and away from it.
    diameter = traits.tumor_size_cm * 10.0
    centre = _place_in_liver(liver_level, canvas, rng, liver_centre, liver_axes, 0.35)
    if centre is None:
        centre = liver_centre.copy()
    half_fov = np.array([n * s / 2.0 for n, s in zip(grid.shape, grid.spacing, strict=True)])
    centre = np.clip(centre, -half_fov + 0.35 * diameter, half_fov - 0.35 * diameter)
    mask = _draw_lesion(canvas, liver, centre, diameter, traits, rng, index=True)
    if mask is None or not mask.any():
        raise ValueError(f"the index tumour ({diameter:.0f} mm) does not fit the field of view "
                         f"of grid {grid}; expected a grid like the profiles' (>= 150 mm in-plane)")
    for _ in range(int(traits.satellite_nodules)):
        direction = rng.standard_normal(3)
        direction /= np.linalg.norm(direction)
        pos = centre + direction * (diameter / 2.0 * rng.uniform(1.15, 1.5) + 6.0)
        radius = rng.uniform(3.0, 6.0)
        box = canvas.box(pos, radius + max(grid.spacing))
        if box is None:
            continue
        bz, by, bx = canvas.sub(box)
        ball = ((bx - pos[0]) ** 2 + (by - pos[1]) ** 2 + (bz - pos[2]) ** 2 < radius ** 2)
        ball &= liver[box] & ~mask[box]
        canvas.signal[box][ball] = _SATELLITE
    placed = [(centre, diameter / 2.0 + 15.0)]
    for _ in range(int(traits.tumor_number) - 1):
        d2 = rng.uniform(15.0, max(16.0, 0.7 * diameter))
        pos = _place_in_liver(liver_level, canvas, rng, liver_centre, liver_axes, 0.6,
                              avoid=[(c, r + d2 / 2.0) for c, r in placed])
        if pos is None:
            continue
        placed.append((pos, d2 / 2.0 + 10.0))
        keep = canvas.signal[mask]
        _draw_lesion(canvas, liver, pos, d2, traits, rng, index=False)
        canvas.signal[mask] = keep  # the index lesion stays as drawn

    # The scanner: blur, bias field, Rician noise, stored scale.
    signal = ndimage.gaussian_filter(canvas.signal, scanner.blur_sigma_vox)
    half = np.array([n * s / 2.0 for n, s in zip(grid.shape, grid.spacing, strict=True)], dtype=np.float32)
    u, v, w = x / half[0], y / half[1], z / half[2]
    c = rng.standard_normal(6) / np.sqrt(6.0)
    signal *= np.exp(scanner.bias_amplitude * (c[0] * u + c[1] * v + c[2] * w
                                               + c[3] * u * u + c[4] * v * v + c[5] * u * v))
    noise = scanner.noise_sd
    real = signal + noise * rng.standard_normal(signal.shape, dtype=np.float32)
    imag = noise * rng.standard_normal(signal.shape, dtype=np.float32)
    magnitude = np.sqrt(real * real + imag * imag)
    stored = magnitude * (1000.0 * scanner.intensity_scale) + scanner.intensity_offset
    image = np.clip(np.rint(stored), 0, np.iinfo(np.int16).max).astype(np.int16)
    return image, mask.astype(np.uint8)
