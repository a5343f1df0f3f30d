"""A PNG of a few twin patients' tumour slices, so a person can judge the look."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk
from matplotlib.figure import Figure

from ...io import atomic_write_bytes
from ...plots import plot_slice

__all__ = ["write_preview"]


def _pick(manifest: pd.DataFrame, truth: pd.DataFrame, n: int) -> pd.DataFrame:
    """Spread the examples over cohorts and over tumour heterogeneity."""
    df = manifest.merge(truth[["patient_id", "heterogeneity", "margin_irregularity",
                               "peritumoural_hypointensity", "satellite_nodules"]], on="patient_id")
    picks = []
    for cohort, k in (("train", n - n // 3 - n // 4), ("external", n // 3), ("followup", n // 4)):
        part = df[df["cohort"] == cohort].sort_values("heterogeneity")
        if len(part):
            idx = np.unique(np.linspace(0, len(part) - 1, min(k, len(part))).round().astype(int))
            picks.append(part.iloc[idx])
    return pd.concat(picks)


def write_preview(twin_dir: Path, out: Path, n: int = 8) -> Path:
    """Write ``out`` (PNG): for ``n`` patients, the axial slice with the largest tumour area."""
    twin_dir = Path(twin_dir)
    manifest = pd.read_csv(twin_dir / "manifest.csv")
    truth = pd.read_csv(twin_dir / "truth.csv")
    cases = _pick(manifest, truth, n)
    cols = 4
    rows = int(np.ceil(len(cases) / cols))
    fig = Figure(figsize=(3.2 * cols, 3.5 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, case in zip(axes, cases.itertuples(index=False), strict=False):  # more axes than cases
        image = sitk.ReadImage(str(twin_dir / case.image))
        mask = sitk.GetArrayFromImage(sitk.ReadImage(str(twin_dir / case.mask)))
        arr = sitk.GetArrayFromImage(image)
        k = int(np.argmax(mask.reshape(mask.shape[0], -1).sum(axis=1)))
        traits = (f"het {case.heterogeneity:+.1f}, margin {case.margin_irregularity:+.1f}"
                  + (", rim" if case.peritumoural_hypointensity else "")
                  + (f", {case.satellite_nodules} sat." if case.satellite_nodules else ""))
        title = (f"{case.patient_id} ({case.cohort}, {case.scanner})\n"
                 f"{case.tumor_size_cm:.1f} cm, {case.tumor_number} tumour(s); {traits}")
        plot_slice(arr[k], mask[k], spacing=image.GetSpacing()[:2], ax=ax, title=title)
    for ax in axes[len(cases):]:
        ax.set_axis_off()
    fig.suptitle("Digital-twin cohort (SYNTHETIC DATA): axial slice of largest tumour area, "
                 "index tumour outlined", fontsize=10)
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    return atomic_write_bytes(out, buf.getvalue())
