"""Grad-CAM maps of the DCNN: where in a crop the network looked for non-response.

Computed with captum's ``LayerGradCam`` on ResNet50's last convolutional block
(``layer4``), ReLU-ed, upsampled to the crop and scaled to [0, 1] per crop.

References
----------
Selvaraju RR, Cogswell M, Das A, et al. Grad-CAM: visual explanations from deep networks via
gradient-based localization. ICCV 2017:618-26.
"""

from __future__ import annotations

import numpy as np

from .dcnn import DCNN

__all__ = ["gradcam_maps"]


def gradcam_maps(dcnn: DCNN, crops: np.ndarray) -> np.ndarray:
    """Grad-CAM of each crop (N, 3, S, S) -> maps (N, S, S) in [0, 1]."""
    import torch
    from captum.attr import LayerAttribution, LayerGradCam

    model = dcnn.model.eval()
    x = torch.as_tensor(crops, dtype=torch.float32, device=dcnn.device).requires_grad_(True)
    cam = LayerGradCam(model, model.layer4).attribute(x, target=0, relu_attributions=True)
    cam = LayerAttribution.interpolate(cam, tuple(crops.shape[-2:]), interpolate_mode="bilinear")
    cam = cam.detach().squeeze(1).cpu().numpy().astype(np.float64)
    peak = cam.reshape(len(cam), -1).max(axis=1)
    return cam / np.where(peak > 0, peak, 1.0)[:, None, None]
