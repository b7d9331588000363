"""Per-tensor interpolations of whole models: linear, SLERP, NuSLERP, Model Stock and passthrough.

Each function merges the tensors of one name (in source order; `base` is the index of the
base model among them, where the method has one); `pipeline/merging/tensor_merge.py` streams
the names, aligns their dtypes, resolves each tensor's parameters and writes the result.
The semantics are mergekit 0.1.5's, method by method, precision included: linear and slerp
compute in float32 (float64 for float64 inputs), nuslerp, model_stock and passthrough in the
inputs' dtype (unless the recipe asks for `compute_dtype = "float32"`):

- linear (Wortsman et al. 2022, model soups, arXiv:2203.05482): sum_i w_i theta_i, divided by
  sum_i w_i with `normalize` (default true). A `base` given to mergekit is one more input.
- slerp (Shoemake 1985): the base is A, the other model B; `t` is B's share. With
  cos(theta) = <a/|a|, b/|b|> over the whole tensor, slerp = sin((1-t) theta)/sin(theta) a +
  sin(t theta)/sin(theta) b, and plain (1-t) a + t b where |cos(theta)| > 0.9995. t = 0 gives A,
  t = 1 gives B. A `t` gradient spans the layers; tensors outside them use its first value
  (`pipeline/merging/settings.py`).
- nuslerp (mergekit's "NuSLERP"): two models with `weight`s; t = w_2 / (w_1 + w_2) (0.5 if the
  sum is 0); SLERP over the flattened tensor (`nuslerp_flatten`, default true), or, with
  `nuslerp_flatten = false`, along the last dimension (each row of a weight matrix) or, with
  `nuslerp_row_wise`, along the first (mergekit's naming); with a base, of the two task vectors,
  added to it.
- model_stock (Jang et al. 2024, "Model Stock", arXiv:2403.19522): for k fine-tunes of a base,
  cos = the mean pairwise cosine of their task vectors, t = k cos / (1 + (k - 1) cos), result
  t * mean(fine-tunes) + (1 - t) * base (per row with `filter_wise`); where 1 + (k-1) cos is
  about 0 the base is kept.
- passthrough: one source per slice, copied, times `scale` where given (mergekit's per-slice
  `scale`, e.g. to damp a repeated layer's output projections).
"""

from __future__ import annotations

from pipeline.merging.settings import Parameter

PARAMETERS = {
    "linear": [Parameter("weight", float, "input", 1.0), Parameter("normalize", bool, "shared", True)],
    "slerp": [Parameter("t", float, "shared", 0.5)],
    "nuslerp": [
        Parameter("weight", float, "non_base", 1.0),
        Parameter("nuslerp_row_wise", bool, "shared", False),
        Parameter("nuslerp_flatten", bool, "shared", True),
    ],
    "model-stock": [Parameter("filter_wise", bool, "shared", False)],
    "passthrough": [Parameter("scale", float, "input", None)],
}


def _work_dtype(tensor):
    import torch

    return torch.float64 if tensor.dtype == torch.float64 else torch.float32


def linear(tensors: list, weights: list[float], normalize: bool):
    import torch

    work = _work_dtype(tensors[0])
    coefficients = torch.tensor(weights, dtype=work)
    result = torch.zeros_like(tensors[0], dtype=work)
    for tensor, coefficient in zip(tensors, coefficients):
        result.addcmul_(tensor.to(work), coefficient)
    if normalize:
        result.div_(coefficients.sum())
    return result


CHUNK = 1024 * 1024  # entries per partial reduction in SLERP


def slerp(t: float, a, b, dot_threshold: float = 0.9995, eps: float = 1e-8):
    """Spherical interpolation from a (t = 0) to b (t = 1), computed on the flattened tensors.

    Norms and the dot product are reduced in chunks of 2^20 entries (the norm of the chunks'
    norms, the sum of their dot products), as mergekit reduces a tensor it merges alone: one
    float32 pass over a 4096 x 4096 tensor is off by about 1e-3 (relative) in its norm."""
    import torch

    work = _work_dtype(a)
    x, y = a.to(work).reshape(-1), b.to(work).reshape(-1)
    t = torch.tensor(t, dtype=work)
    starts = range(0, max(x.numel(), 1), CHUNK)
    norm_x = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(x[i : i + CHUNK]) for i in starts]))
    norm_y = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(y[i : i + CHUNK]) for i in starts]))
    norm_x = torch.where(norm_x > eps, norm_x, 1)
    norm_y = torch.where(norm_y > eps, norm_y, 1)
    dot = torch.stack([((x[i : i + CHUNK] / norm_x) * (y[i : i + CHUNK] / norm_y)).sum() for i in starts])
    dot = dot.sum().clamp(-1, 1)
    shape = a.shape
    if dot.abs() > dot_threshold:  # nearly parallel: the sine ratios are unstable; lerp is the limit
        return ((1 - t) * x + t * y).reshape(shape)
    theta = torch.acos(dot)
    sin_theta = torch.sin(theta)
    result = (torch.sin((1 - t) * theta) / sin_theta) * x + (torch.sin(t * theta) / sin_theta) * y
    return result.reshape(shape)


def nuslerp(t: float, a, b, row_wise: bool, flatten: bool, eps: float = 1e-8):
    import torch

    shape = a.shape
    if flatten:
        a, b = a.reshape(-1), b.reshape(-1)
    elif row_wise:
        a, b = a.transpose(0, -1), b.transpose(0, -1)

    def unit(v):
        return v / torch.norm(v, dim=-1, keepdim=True).clamp(min=1e-7)

    cos = torch.sum(unit(a) * unit(b), dim=-1, keepdim=True).clamp(-1, 1)
    colinear = (1 - cos.square()) <= eps**2
    theta = torch.acos(torch.where(colinear, 0, cos))
    sin_theta = torch.sin(theta)
    result = (torch.sin((1 - t) * theta) * a + torch.sin(t * theta) * b) / sin_theta
    result = torch.where(colinear, (1 - t) * a + t * b, result)
    if row_wise and not flatten:
        result = result.transpose(0, -1)
    return result.reshape(shape)


def model_stock(base_tensor, tuned: list, filter_wise: bool):
    import torch

    shape = base_tensor.shape
    if filter_wise:
        w0 = base_tensor.unsqueeze(0) if base_tensor.dim() == 1 else base_tensor
        ws = [w.unsqueeze(0) if w.dim() == 1 else w for w in tuned]
    else:
        w0, ws = base_tensor.reshape(-1), [w.reshape(-1) for w in tuned]
    offsets = [w - w0 for w in ws]
    cosines = []
    for i, u in enumerate(offsets):
        for v in offsets[i + 1 :]:
            norms = torch.norm(u, dim=-1) * torch.norm(v, dim=-1)
            cosines.append(((u * v).sum(dim=-1) / norms.clamp(min=1e-6)).clamp(-1, 1))
    cos = torch.stack(cosines).mean(dim=0).unsqueeze(-1)
    k = len(ws)
    denominator = 1 + (k - 1) * cos
    singular = denominator.abs() < 1e-6
    t = torch.where(singular, torch.zeros_like(cos), k * cos / torch.where(singular, 1, denominator))
    return (t * (sum(ws) / k) + (1 - t) * w0).reshape(shape)


def merge(method: str, tensors: list, base: int | None, shared: dict, per_input: list[dict], name: str, seed: int):
    """The merged tensor for one name (see the module docstring for each method)."""
    work = tensors[0].dtype  # linear and slerp compute in float32 themselves; the others in the inputs' dtype
    if method == "linear":
        return linear(tensors, [p["weight"] for p in per_input], shared["normalize"])
    if method == "passthrough":
        scale = per_input[0]["scale"]
        return tensors[0] if scale is None else tensors[0].to(work) * scale
    if method == "slerp":
        return slerp(shared["t"], tensors[base], tensors[1 - base])
    others = [i for i in range(len(tensors)) if i != base]
    if method == "nuslerp":
        first, second = (tensors[i].to(work) for i in others)
        w1, w2 = (per_input[i]["weight"] for i in others)
        t = 0.5 if abs(w1 + w2) < 1e-6 else w2 / (w1 + w2)
        row_wise, flatten = shared["nuslerp_row_wise"], shared["nuslerp_flatten"]
        if base is None:
            return nuslerp(t, first, second, row_wise, flatten)
        origin = tensors[base].to(work)
        return origin + nuslerp(t, first - origin, second - origin, row_wise, flatten)
    if method == "model-stock":
        return model_stock(tensors[base].to(work), [tensors[i].to(work) for i in others], shared["filter_wise"])
    raise ValueError(f"unknown interpolation {method!r}")
