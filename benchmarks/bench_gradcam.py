"""Where the DCNN's Grad-CAM maps lie, against where the twin put the signal, per way of drawing them.

The twin plants the imaging signal in the tumour (heterogeneity, necrosis) and at its edge
(margin irregularity, peritumoural hypointensity). For every test patient of a report run (or
any bundle and twin cohort), on the largest tumour slice, it measures the share of the map's
mass inside the tumour and a 10 mm rim (:func:`tace.models.gradcam.mass_share`) for each layer,
target (the predicted class, always non-response, the magnitude) and set of views (as is, or
averaged over the test-time views), beside the share a flat map would give (the region's share
of the crop), the count of empty maps and the share of the mass in the crop's four corner
eighths. Record the output in benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/bench_gradcam.py --run reports/default
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from tace.cohort import load_cohort, split_internal, tumour_labels
from tace.features.crops import CropSpec, largest_slice_crops
from tace.models import read_bundle
from tace.models.dcnn import DCNN, TEST_TIME_VIEWS
from tace.models.gradcam import gradcam_maps, mass_share


def _corner_share(maps: np.ndarray) -> np.ndarray:
    size = maps.shape[-1]
    k = max(size // 8, 1)
    corners = np.zeros(maps.shape[-2:], bool)
    for rows in (slice(0, k), slice(size - k, size)):
        for cols in (slice(0, k), slice(size - k, size)):
            corners[rows, cols] = True
    return mass_share(maps, np.broadcast_to(corners, maps.shape))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True, help="a report run folder (models/bundle, cohort/manifest.csv)")
    ap.add_argument("--cohort", type=Path, default=None, help="the cohort manifest [default: RUN/cohort/manifest.csv]")
    ap.add_argument("--layers", nargs="+", default=["layer2", "layer3", "layer4"])
    ap.add_argument("--rim-mm", type=float, default=10.0)
    args = ap.parse_args()
    bundle = read_bundle(args.run / "models")
    cohort = load_cohort(args.cohort or args.run / "cohort" / "manifest.csv")
    table = split_internal(cohort.table, seed=bundle.manifest["seed"])
    test = table[table["cohort"] == "test"].reset_index(drop=True)
    crop = bundle.manifest["dcnn"]["crops"]
    spec = CropSpec(size=crop["size"], slices=crop["slices"], margin_mm=crop["margin_mm"])
    crops, regions = largest_slice_crops(list(test["image"]), list(test["mask"]), spec, tumour_labels(test),
                                         rim_mm=args.rim_mm, n_jobs=2)
    dcnn = DCNN.load(bundle.path("dcnn.safetensors"))
    chance = regions.reshape(len(regions), -1).mean(axis=1)
    print(f"{len(test)} test patients, {spec.size} px crops; tumour + {args.rim_mm:g} mm rim covers a median "
          f"{np.median(chance):.0%} of the crop (a flat map's share)")
    rows = []
    warnings.simplefilter("ignore", RuntimeWarning)  # a variant whose every map is empty: NaN, said as such
    for layer in args.layers:
        for target in ("predicted", "nonresponse", "absolute"):
            for views in (("as_is",), TEST_TIME_VIEWS):
                maps, prob = gradcam_maps(dcnn, crops, layer=layer, target=target, views=views)
                share = mass_share(maps, regions)
                rows.append({"layer": layer, "target": target, "views": "+".join(views),
                             "median_share": np.nanmedian(share), "q1": np.nanquantile(share, 0.25),
                             "q3": np.nanquantile(share, 0.75), "empty_maps": int(np.isnan(share).sum()),
                             "corner_share": np.nanmedian(_corner_share(maps)),
                             "median_gain_over_flat": np.nanmedian(share - chance)})
    out = pd.DataFrame(rows)
    with pd.option_context("display.width", 160):
        print(out.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(json.dumps({"run": str(args.run), "n": len(test)}))


if __name__ == "__main__":
    main()
