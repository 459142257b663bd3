#!/usr/bin/python3
"""Exports the trained emoji-tiny models (checkpoints of emoji_train.py) into models/emoji-tiny/.

Writes the diffusers ONNX layout plus Kiln's extras (see models/emoji-tiny/README.md):
  unet/ student_unet/ vae_encoder/ vae_decoder/ consistency_decoder/ evaluator/  model.onnx each
  unet_torchscript/model.pt   TorchScript twin of the teacher for adapter training
  scheduler/scheduler_config.json, kiln.json, eval/prompts.json, reference.json
  model_index.json only with --index (it makes emoji-tiny Kiln's default package)
A component whose checkpoint does not exist yet is exported from its initial weights (the student
from the teacher) and listed under "untrained" in the output, so serving code can integrate early.

  /usr/bin/python3 models/recipes/emoji_export.py [--out DIR] [--index] [--guidance G]
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

import onnx
import torch

import emoji_nets as N
from fixtures import describe_input, sin_tensor, summarize

REPO = N.ROOT.parents[1]
OPSET = 17


def load(name, module, key=None):
    path = N.CKPT / f"{name}.pt"
    if not path.exists():
        return module, False
    module.load_state_dict(torch.load(path)["modules"][key or name])
    return module, True


def export(model, args, names, outputs, dynamic, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, args, str(path), input_names=names, output_names=outputs,
                          dynamic_axes=dynamic, opset_version=OPSET, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


class Encode(torch.nn.Module):
    """vae_encoder graph: image -> latent_parameters (mean, logvar), as Kiln's fixture flavour."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, sample):
        return self.vae.encoder(sample)


def export_onnx(out, teacher, student, vae, cdec, ev):
    """Writes the six ONNX graphs; returns the example latents and context (the TorchScript twin is
    traced with them). emoji_recover.py runs this on fresh modules to map initializers to parameters."""
    b = 2
    lat = torch.randn(b, 4, 8, 8)
    ctx = torch.randn(b, N.MAX_TOKENS, N.CONTEXT)
    unet_dyn = {"sample": {0: "batch"}, "timestep": {0: "batch"}, "encoder_hidden_states": {0: "batch"},
                "encoder_hidden_states_v": {0: "batch"}, "out_sample": {0: "batch"}}
    unet_names = ["sample", "timestep", "encoder_hidden_states", "encoder_hidden_states_v"]
    for name, model in (("unet", teacher), ("student_unet", student)):
        export(model, (lat, torch.tensor([999.0, 500.0]), ctx, ctx), unet_names, ["out_sample"], unet_dyn,
               out / name / "model.onnx")
    export(Encode(vae), (torch.randn(b, 3, 32, 32),), ["sample"], ["latent_parameters"],
           {"sample": {0: "batch", 2: "height", 3: "width"},
            "latent_parameters": {0: "batch", 2: "latent_height", 3: "latent_width"}}, out / "vae_encoder/model.onnx")
    export(vae.decoder, (lat,), ["latent_sample"], ["sample"],
           {"latent_sample": {0: "batch", 2: "latent_height", 3: "latent_width"},
            "sample": {0: "batch", 2: "height", 3: "width"}}, out / "vae_decoder/model.onnx")
    export(cdec, (torch.randn(b, 3, 32, 32), torch.tensor([1008.0, 512.0]), lat), ["sample", "timestep", "latents"],
           ["out"], {"sample": {0: "batch"}, "timestep": {0: "batch"}, "latents": {0: "batch"}, "out": {0: "batch"}},
           out / "consistency_decoder/model.onnx")
    export(ev, (torch.randn(b, 3, 32, 32),), ["image"], ["image_embedding", "style_logits"],
           {"image": {0: "batch"}, "image_embedding": {0: "batch"}, "style_logits": {0: "batch"}},
           out / "evaluator/model.onnx")
    return lat, ctx


def eval_prompts():
    """200 held-in and 200 held-out noto/fluent captions in a fixed, hash-shuffled order."""
    rows = N.load_index()
    key = lambda r: hashlib.sha256(f"{r['codepoint']}/{r['style']}".encode()).hexdigest()
    out = []
    for split in ("train", "holdout"):
        sel = sorted(N.select(rows, N.GENERATOR_STYLES, split), key=key)[:200]
        out += [{"caption": r["caption"], "codepoint": r["codepoint"], "style": r["style"], "split": split,
                 "seed": 1000 + len(out) + i} for i, r in enumerate(sel)]
    return {"format": 1, "seed": 1000, "note": "retrieval groups are consecutive blocks of 100 within a split; "
            "held-in = the generator's training split, held-out = code points no model trained on",
            "prompts": out}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "models" / "emoji-tiny")
    ap.add_argument("--index", action="store_true", help="also write model_index.json")
    ap.add_argument("--guidance", type=float, default=3.0, help="teacher_defaults.guidance (best measured)")
    args = ap.parse_args()
    out = args.out
    stats = json.loads((N.WORK / "vae_stats.json").read_text())
    sf = stats["scaling_factor"]
    cfg = json.loads((N.WORK / "unet_config.json").read_text()) if (N.WORK / "unet_config.json").exists() else {}
    ch = tuple(cfg.get("ch", (32, 64)))
    cdec_ch = tuple(json.loads((N.WORK / "cdec_config.json").read_text())["ch"]) \
        if (N.WORK / "cdec_config.json").exists() else (32, 64)

    torch.manual_seed(0)
    vae, _ = load("vae", N.AutoencoderKL())
    teacher, t_ok = load("unet", N.UNet2DConditionModel(ch), "ema")
    student = N.UNet2DConditionModel(ch)
    student.load_state_dict(teacher.state_dict())
    student, s_ok = load("student", student, "student")
    cdec, c_ok = load("cdec", N.ConsistencyDecoderUNet(cdec_ch, stats["train"]["latent_channel_mean"],
                                                        stats["train"]["latent_channel_std"]), "ema")
    ev, e_ok = load("evaluator", N.EmojiEvaluator())
    untrained = [n for n, ok in (("unet", t_ok), ("student_unet", s_ok), ("consistency_decoder", c_ok),
                                 ("evaluator", e_ok)) if not ok]
    for m in (vae, teacher, student, cdec, ev):
        m.eval()

    lat, ctx = export_onnx(out, teacher, student, vae, cdec, ev)
    (out / "unet_torchscript").mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        traced = torch.jit.trace(teacher, (lat, torch.tensor([999.0, 500.0]), ctx, ctx))
    traced.save(str(out / "unet_torchscript/model.pt"))

    (out / "scheduler").mkdir(parents=True, exist_ok=True)
    (out / "scheduler/scheduler_config.json").write_text(json.dumps({
        "_class_name": "DDIMScheduler", "_diffusers_version": "0.27.0", "beta_start": 0.00085, "beta_end": 0.012,
        "beta_schedule": "scaled_linear", "num_train_timesteps": 1000, "prediction_type": "epsilon",
        "set_alpha_to_one": False, "steps_offset": 1, "clip_sample": False, "timestep_spacing": "trailing"},
        indent=2) + "\n")
    (out / "kiln.json").write_text(json.dumps({
        "format": 1,
        "conditioning": {"context_width": N.CONTEXT, "max_tokens": N.MAX_TOKENS, "latent_channels": 4,
                         "latent_factor": 4, "scaling_factor": round(sf, 6), "image_size": 32,
                         "size_multiple": 32, "max_image_size": 32},
        "defaults": {"steps": 1, "scheduler": "onestep", "guidance": 1.0, "unet": "student"},
        "teacher_defaults": {"steps": 20, "scheduler": "dpmpp_2m", "guidance": args.guidance},
        "components": {"student_unet": "student_unet/model.onnx", "consistency_decoder": "consistency_decoder/model.onnx",
                       "evaluator": "evaluator/model.onnx", "unet_torchscript": "unet_torchscript/model.pt"}},
        indent=2) + "\n")
    if args.index:
        (out / "model_index.json").write_text(json.dumps({
            "_class_name": "OnnxStableDiffusionPipeline", "_diffusers_version": "0.27.0",
            "feature_extractor": [None, None], "requires_safety_checker": False, "safety_checker": [None, None],
            "scheduler": ["diffusers", "DDIMScheduler"], "text_encoder": ["diffusers", "OnnxRuntimeModel"],
            "tokenizer": ["transformers", "BertTokenizerFast"], "unet": ["diffusers", "OnnxRuntimeModel"],
            "vae_decoder": ["diffusers", "OnnxRuntimeModel"], "vae_encoder": ["diffusers", "OnnxRuntimeModel"]},
            indent=2) + "\n")
    (out / "eval").mkdir(parents=True, exist_ok=True)
    (out / "eval/prompts.json").write_text(json.dumps(eval_prompts(), indent=1) + "\n")
    write_reference(out, teacher, student, vae, cdec, ev)
    print(json.dumps({"out": str(out), "scaling_factor": sf, "untrained": untrained}))


SIN_LATENT = (1.0, 0.37, 0.1)
SIN_CONTEXT = (1.0, 0.011, 0.3)
SIN_CONTEXT_V = (0.8, 0.023, 1.1)
SIN_IMAGE = (0.9, 0.05, 0.0)


@torch.no_grad()
def write_reference(out, teacher, student, vae, cdec, ev):
    lat = sin_tensor([2, 4, 8, 8], *SIN_LATENT)
    ctx = sin_tensor([2, N.MAX_TOKENS, N.CONTEXT], *SIN_CONTEXT)
    ctx_v = sin_tensor([2, N.MAX_TOKENS, N.CONTEXT], *SIN_CONTEXT_V)
    image = sin_tensor([2, 3, 32, 32], *SIN_IMAGE)
    cases = []
    for name, model, path in (("teacher", teacher, "unet/model.onnx"), ("student", student, "student_unet/model.onnx")):
        ts = torch.tensor([999.0, 500.0])
        cases.append({"name": name, "model": path, "inputs": {
            "sample": describe_input(lat, sin=SIN_LATENT), "timestep": describe_input(ts),
            "encoder_hidden_states": describe_input(ctx, sin=SIN_CONTEXT),
            "encoder_hidden_states_v": describe_input(ctx_v, sin=SIN_CONTEXT_V)},
            "outputs": {"out_sample": summarize(model(lat, ts, ctx, ctx_v))}})
    cases.append({"name": "vae_encoder", "model": "vae_encoder/model.onnx",
                  "inputs": {"sample": describe_input(image, sin=SIN_IMAGE)},
                  "outputs": {"latent_parameters": summarize(vae.encoder(image))}})
    cases.append({"name": "vae_decoder", "model": "vae_decoder/model.onnx",
                  "inputs": {"latent_sample": describe_input(lat, sin=SIN_LATENT)},
                  "outputs": {"sample": summarize(vae.decoder(lat))}})
    ts = torch.tensor([1008.0, 512.0])
    cases.append({"name": "consistency_decoder", "model": "consistency_decoder/model.onnx", "inputs": {
        "sample": describe_input(image, sin=SIN_IMAGE), "timestep": describe_input(ts),
        "latents": describe_input(lat, sin=SIN_LATENT)}, "outputs": {"out": summarize(cdec(image, ts, lat))}})
    emb, logits = ev(image)
    cases.append({"name": "evaluator", "model": "evaluator/model.onnx",
                  "inputs": {"image": describe_input(image, sin=SIN_IMAGE)},
                  "outputs": {"image_embedding": summarize(emb), "style_logits": summarize(logits)}})
    ref = {"format": 1, "package": "emoji-tiny",
           "generator": "inputs with `sin` are x[i] = scale * sin(freq * i + phase), i the row-major flat index, "
                        "computed in float64 and rounded to float32; inputs with `values` list them row-major",
           "tolerance": {"abs": 2e-4, "note": "elementwise for first/strided/min/max/mean_abs; sum within abs * element count"},
           "cases": cases}
    (out / "reference.json").write_text(json.dumps(ref, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
