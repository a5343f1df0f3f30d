"""Simulated scanners: what differs between sites besides the patients (the scanner shift)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EXTERNAL_SCANNERS", "INTERNAL_SCANNERS", "Scanner"]


@dataclass(frozen=True)
class Scanner:
    """Acquisition and reconstruction of one simulated scanner.

    Attributes
    ----------
    name, site
        Written to the manifest's ``scanner`` and ``site`` columns.
    spacing_factor
        Voxel spacing relative to the profile's ``spacing_mm`` (x, y, z); the voxel grid
        keeps the profile's shape, so a coarser spacing also widens the field of view.
    intensity_scale, intensity_offset
        Stored value = signal * 1000 * scale + offset (the liver's signal is 1).
    noise_sd
        Standard deviation of the complex Gaussian noise behind the Rician magnitude
        noise, relative to the liver's signal.
    bias_amplitude
        Strength of the smooth multiplicative bias field (coil sensitivity).
    blur_sigma_vox
        Point-spread function, a Gaussian of this many voxels.
    """

    name: str
    site: str
    spacing_factor: tuple[float, float, float]
    intensity_scale: float
    intensity_offset: float
    noise_sd: float
    bias_amplitude: float
    blur_sigma_vox: float


INTERNAL_SCANNERS = (
    Scanner("A-3T", "A", (1.0, 1.0, 1.0), 1.00, 0.0, 0.030, 0.10, 0.5),
    Scanner("A-1.5T", "A", (1.0, 1.0, 1.0), 0.80, 0.0, 0.045, 0.15, 0.6),
)
EXTERNAL_SCANNERS = (
    Scanner("B-1.5T", "B", (1.15, 1.15, 1.2), 1.35, 40.0, 0.060, 0.25, 0.8),
)
