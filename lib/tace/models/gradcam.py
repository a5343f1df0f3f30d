"""Grad-CAM maps of the DCNN: where in a crop the network looked for non-response.

Computed with captum's ``LayerGradCam`` for the class the network predicts: with a single
logit, the map for "response" is the negative of the map for "non-response", so the raw
map is signed by the prediction before the ReLU (else every crop predicted a responder
shows an empty map). The layer is ResNet50's last block (``layer4``), or ``layer3`` for
inputs under 128 px, where layer4 is only 2 x 2 or 4 x 4 cells. The map is upsampled to
the crop and scaled to [0, 1] per crop.

References
----------
Selvaraju RR, Cogswell M, Das A, et al. Grad-CAM: visual explanations from deep networks via
gradient-based localization. ICCV 2017:618-26.
"""

from __future__ import annotations

import numpy as np

from .dcnn import DCNN

__all__ = ["gradcam_maps", "mass_share"]


def _layer_name(size: int) -> str:
    return "layer4" if size >= 128 else "layer3"


def gradcam_maps(dcnn: DCNN, crops: np.ndarray, *, layer: str | None = None, target: str = "predicted",
                 views: tuple[str, ...] = ("as_is",)) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM of each crop (N, 3, S, S).

    Parameters
    ----------
    layer
        The ResNet50 block whose activations are weighted (``layer1`` .. ``layer4``); by
        default ``layer4``, or ``layer3`` for inputs under 128 px.
    target
        ``predicted``: the map for the class the network predicts (the raw map signed by the
        prediction before the ReLU); ``nonresponse``: always the evidence for non-response;
        ``absolute``: the magnitude of the raw map, whatever its sign.
    views
        Crop views (:data:`tace.models.dcnn.CROP_VIEWS`) whose maps, flipped back, are
        averaged (the network scores a patient over the same views).

    Returns
    -------
    maps : float array (N, S, S) in [0, 1]
    prob : float array (N,), the crop's predicted probability of non-response (as is)
    """
    import torch
    from captum.attr import LayerAttribution, LayerGradCam

    from .dcnn import CROP_VIEWS

    if target not in ("predicted", "nonresponse", "absolute"):
        raise ValueError(f"target must be predicted, nonresponse or absolute, not {target!r}")
    model = dcnn.model.eval()
    block = getattr(model, layer or _layer_name(crops.shape[-1]))
    x = torch.as_tensor(crops, dtype=torch.float32, device=dcnn.device)
    with torch.no_grad():
        logit = model(x).squeeze(1)
    total = None
    for view in views:
        dims = CROP_VIEWS[view]
        xv = (torch.flip(x, dims) if dims else x).clone().requires_grad_(True)
        raw = LayerGradCam(model, block).attribute(xv, target=0, relu_attributions=False)
        raw = LayerAttribution.interpolate(raw, tuple(crops.shape[-2:]), interpolate_mode="bilinear")
        raw = torch.flip(raw, dims) if dims else raw
        total = raw if total is None else total + raw
    raw = total / len(views)
    if target == "predicted":
        cam = torch.relu(raw * torch.sign(logit).view(-1, 1, 1, 1))
    elif target == "nonresponse":
        cam = torch.relu(raw)
    else:
        cam = raw.abs()
    cam = cam.detach().squeeze(1).cpu().numpy().astype(np.float64)
    prob = torch.sigmoid(logit).cpu().numpy().astype(np.float64)
    peak = cam.reshape(len(cam), -1).max(axis=1)
    return cam / np.where(peak > 0, peak, 1.0)[:, None, None], prob


def mass_share(maps: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """The share of each map's mass (its sum over pixels) that lies inside its region: 1 when
    the map sits wholly on the tumour and rim, the region's share of the crop for a flat map;
    NaN for an empty map (all zero).

    >>> m = np.zeros((1, 4, 4)); m[0, 1:3, 1:3] = 1.0
    >>> r = np.zeros((1, 4, 4), bool); r[0, :2] = True
    >>> mass_share(m, r).tolist()
    [0.5]
    """
    maps = np.asarray(maps, dtype=float)
    total = maps.reshape(len(maps), -1).sum(axis=1)
    inside = (maps * np.asarray(regions, dtype=bool)).reshape(len(maps), -1).sum(axis=1)
    return np.where(total > 0, inside / np.where(total > 0, total, 1.0), np.nan)
