#!/usr/bin/env python3
"""Reference trajectories for Kiln's schedulers (dev.kiln.pipeline.scheduler).

An independent numpy re-statement of the samplers as diffusers implements them
(DDIMScheduler, EulerDiscreteScheduler, DPMSolverMultistepScheduler with its defaults,
LCMScheduler) plus the DMD one-step sampler, written from the formulas in
shared/REFERENCE.md and diffusers' set_timesteps/step code paths. It is deliberately
written in numpy's vector style and diffusers' vocabulary, not after the Java code, so the
two can disagree when one of them is wrong.

For every case it records the timesteps, the initial noise sigma, the sigmas where the
sampler has them, and a trajectory driven by a fake model:

    sample_0[i]      = sin(i + 0.5) * init_noise_sigma
    model_output[i]  = 0.5 * scaled_input[i] + 0.1 * cos(i + step)
    fresh noise k[i] = sin(1.3 * i + 0.7 * k) * 1.1           (stochastic samplers, stream k)

The Java side moves float32 arrays between steps, so the trajectory here rounds the sample,
the scaled input, the model output and the noise to float32 at the same boundaries and does
all arithmetic between them in float64.

Usage: /usr/bin/python3 models/recipes/scheduler_reference.py [output dir]
(default: pipeline/src/test/resources/scheduler next to this repository's root).
"""

import json
import math
import os
import sys

import numpy as np

SAMPLE_SIZE = 8
# Trajectories longer than this keep only the first scaled input and the last sample, which
# still depends on every step, to keep the committed goldens small.
FULL_TRAJECTORY_MAX_STEPS = 10

SD15 = {
    "_class_name": "PNDMScheduler",
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "steps_offset": 1,
    "set_alpha_to_one": False,
    "clip_sample": False,
    "skip_prk_steps": True,
    "trained_betas": None,
}


def f32(x):
    return np.asarray(x, dtype=np.float32).astype(np.float64)


# ---------------------------------------------------------------- noise schedule


def betas_for(cfg):
    n = cfg.get("num_train_timesteps", 1000)
    if cfg.get("trained_betas") is not None:
        return np.asarray(cfg["trained_betas"], dtype=np.float64)
    schedule = cfg.get("beta_schedule", "linear")
    start, end = cfg.get("beta_start", 0.0001), cfg.get("beta_end", 0.02)
    if schedule == "linear":
        return np.linspace(start, end, n, dtype=np.float64)
    if schedule == "scaled_linear":
        return np.linspace(start ** 0.5, end ** 0.5, n, dtype=np.float64) ** 2
    if schedule == "squaredcos_cap_v2":
        def alpha_bar(t):
            return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        return np.array([min(1 - alpha_bar((i + 1) / n) / alpha_bar(i / n), 0.999) for i in range(n)])
    raise ValueError(schedule)


def alphas_cumprod_for(cfg):
    return np.cumprod(1.0 - betas_for(cfg))


def train_sigmas(cfg):
    ac = alphas_cumprod_for(cfg)
    return ((1 - ac) / ac) ** 0.5


def spaced(cfg, n, spacing, rounded_linspace):
    """DDIM / Euler timestep spacing (diffusers set_timesteps)."""
    T = cfg.get("num_train_timesteps", 1000)
    if spacing == "linspace":
        ts = np.linspace(0, T - 1, n)[::-1].copy()
        return ts.round() if rounded_linspace else ts
    if spacing == "leading":
        ratio = T // n
        return (np.arange(0, n) * ratio).round()[::-1].astype(np.float64) + cfg.get("steps_offset", 0)
    if spacing == "trailing":
        ratio = T / n
        ts = np.round(np.arange(T, 0, -ratio)).astype(np.float64) - 1
        assert len(ts) == n, (n, ts)
        return ts
    raise ValueError(spacing)


def x0_and_eps(pred, model_output, sample, alpha_prod):
    """Clean-sample and noise estimates from a VP-form sample x = sqrt(a) x0 + sqrt(1-a) eps."""
    a, b = alpha_prod ** 0.5, (1 - alpha_prod) ** 0.5
    if pred == "epsilon":
        return (sample - b * model_output) / a, model_output
    if pred == "v_prediction":
        return a * sample - b * model_output, a * model_output + b * sample
    if pred == "sample":
        return model_output, (sample - a * model_output) / b
    raise ValueError(pred)


# ---------------------------------------------------------------- samplers
# Each sampler: setup(cfg, n) -> dict(timesteps, init_noise_sigma, sigmas?) and
# scale(state, x, i), step(state, m, i, x, noise_fn) -> next x, add_noise(state, x0, noise, i).


class Ddim:
    name = "ddim"
    scales_input = False
    spacings = ("leading", "trailing", "linspace")

    def __init__(self, cfg, n, spacing):
        self.cfg, self.n = cfg, n
        self.ac = alphas_cumprod_for(cfg)
        self.final = 1.0 if cfg.get("set_alpha_to_one", True) else self.ac[0]
        self.timesteps = spaced(cfg, n, spacing, rounded_linspace=True).astype(np.int64)
        self.init_noise_sigma = 1.0
        self.sigmas = None

    def scale(self, x, i):
        return x

    def step(self, m, i, x, noise_fn):
        t = int(self.timesteps[i])
        # diffusers steps back by a fixed stride whatever the spacing
        prev = t - self.cfg["num_train_timesteps"] // self.n
        a_t = self.ac[t]
        a_prev = self.ac[prev] if prev >= 0 else self.final
        x0, eps = x0_and_eps(self.cfg.get("prediction_type", "epsilon"), m, x, a_t)
        if self.cfg.get("clip_sample", False):
            r = self.cfg.get("clip_sample_range", 1.0)
            x0 = np.clip(x0, -r, r)
        return a_prev ** 0.5 * x0 + (1 - a_prev) ** 0.5 * eps

    def add_noise(self, x0, noise, i):
        a = self.ac[int(self.timesteps[i])]
        return a ** 0.5 * x0 + (1 - a) ** 0.5 * noise


class Euler:
    name = "euler"
    scales_input = True
    spacings = ("leading", "trailing", "linspace")

    def __init__(self, cfg, n, spacing):
        self.cfg = cfg
        self.timesteps = spaced(cfg, n, spacing, rounded_linspace=False)
        s = train_sigmas(cfg)
        self.sigmas = np.concatenate([np.interp(self.timesteps, np.arange(len(s)), s), [0.0]])
        top = self.sigmas.max()
        self.init_noise_sigma = top if spacing in ("linspace", "trailing") else (top ** 2 + 1) ** 0.5

    def scale(self, x, i):
        return x / (self.sigmas[i] ** 2 + 1) ** 0.5

    def step(self, m, i, x, noise_fn):
        sigma = self.sigmas[i]
        pred = self.cfg.get("prediction_type", "epsilon")
        if pred == "epsilon":
            x0 = x - sigma * m
        elif pred == "v_prediction":
            x0 = m * (-sigma / (sigma ** 2 + 1) ** 0.5) + x / (sigma ** 2 + 1)
        else:
            x0 = m
        derivative = (x - x0) / sigma
        return x + derivative * (self.sigmas[i + 1] - sigma)

    def add_noise(self, x0, noise, i):
        return x0 + noise * self.sigmas[i]


class DpmSolverPP2M:
    name = "dpmpp_2m"
    scales_input = False
    spacings = ("leading", "trailing", "linspace")

    def __init__(self, cfg, n, spacing):
        self.cfg = cfg
        T = cfg["num_train_timesteps"]
        if spacing == "linspace":
            ts = np.linspace(0, T - 1, n + 1).round()[::-1][:-1].copy().astype(np.int64)
        elif spacing == "leading":
            ratio = T // (n + 1)
            ts = (np.arange(0, n + 1) * ratio).round()[::-1][:-1].copy().astype(np.int64)
            ts += cfg.get("steps_offset", 0)
        else:
            ts = np.arange(T, 0, -T / n).round().copy().astype(np.int64) - 1
        assert len(ts) == n
        self.timesteps = ts
        s = train_sigmas(cfg)
        self.sigmas = np.concatenate([np.interp(ts, np.arange(len(s)), s), [0.0]])
        self.init_noise_sigma = 1.0
        self.outputs = []

    def scale(self, x, i):
        return x

    @staticmethod
    def alpha_sigma(sigma):
        alpha = 1 / (sigma ** 2 + 1) ** 0.5
        return alpha, sigma * alpha

    def lam(self, sigma):
        alpha, s = self.alpha_sigma(sigma)
        return np.log(alpha) - np.log(s)

    def step(self, m, i, x, noise_fn):
        n = len(self.timesteps)
        alpha_s, sig_s = self.alpha_sigma(self.sigmas[i])
        pred = self.cfg.get("prediction_type", "epsilon")
        if pred == "epsilon":
            x0 = (x - sig_s * m) / alpha_s
        elif pred == "v_prediction":
            x0 = alpha_s * x - sig_s * m
        else:
            x0 = m
        self.outputs.append(x0)
        sigma_next = self.sigmas[i + 1]
        if sigma_next == 0.0:
            # final step to sigma 0 is first order, and its limit is the data prediction itself
            return x0
        alpha_t, sig_t = self.alpha_sigma(sigma_next)
        h = self.lam(sigma_next) - self.lam(self.sigmas[i])
        first = (sig_t / sig_s) * x - alpha_t * (np.exp(-h) - 1.0) * x0
        if len(self.outputs) < 2:
            return first
        h0 = self.lam(self.sigmas[i]) - self.lam(self.sigmas[i - 1])
        r0 = h0 / h
        d1 = (1.0 / r0) * (self.outputs[-1] - self.outputs[-2])
        return first - 0.5 * alpha_t * (np.exp(-h) - 1.0) * d1

    def add_noise(self, x0, noise, i):
        alpha, s = self.alpha_sigma(self.sigmas[i])
        return alpha * x0 + s * noise


class Lcm:
    name = "lcm"
    scales_input = False
    spacings = (None,)

    def __init__(self, cfg, n, spacing):
        self.cfg = cfg
        self.ac = alphas_cumprod_for(cfg)
        T = cfg["num_train_timesteps"]
        origin_steps = cfg.get("original_inference_steps", 50)
        k = T // origin_steps
        origin = (np.asarray(list(range(1, origin_steps + 1))) * k - 1)[::-1].copy()
        idx = np.floor(np.linspace(0, len(origin), num=n, endpoint=False)).astype(np.int64)
        self.timesteps = origin[idx]
        self.init_noise_sigma = 1.0
        self.sigmas = None

    def scale(self, x, i):
        return x

    def step(self, m, i, x, noise_fn):
        t = int(self.timesteps[i])
        a_t = self.ac[t]
        x0, _ = x0_and_eps(self.cfg.get("prediction_type", "epsilon"), m, x, a_t)
        if self.cfg.get("clip_sample", False):
            r = self.cfg.get("clip_sample_range", 1.0)
            x0 = np.clip(x0, -r, r)
        scaled_t = t * self.cfg.get("timestep_scaling", 10.0)
        c_skip = 0.5 ** 2 / (scaled_t ** 2 + 0.5 ** 2)
        c_out = scaled_t / (scaled_t ** 2 + 0.5 ** 2) ** 0.5
        denoised = c_out * x0 + c_skip * x
        if i == len(self.timesteps) - 1:
            return denoised
        a_prev = self.ac[int(self.timesteps[i + 1])]
        return a_prev ** 0.5 * denoised + (1 - a_prev) ** 0.5 * noise_fn(i + 1)

    def add_noise(self, x0, noise, i):
        a = self.ac[int(self.timesteps[i])]
        return a ** 0.5 * x0 + (1 - a) ** 0.5 * noise


class OneStep:
    name = "onestep"
    scales_input = False
    spacings = (None,)

    def __init__(self, cfg, n, spacing):
        self.cfg = cfg
        self.ac = alphas_cumprod_for(cfg)
        # DMD2's four-step student samples at 999, 749, 499, 249: evenly spaced, ending one
        # stride above 0; fewer steps keep the same rule (1 step: 999 alone).
        T = cfg["num_train_timesteps"]
        self.timesteps = np.array([T - 1 - (k * T) // n for k in range(n)], dtype=np.int64)
        self.init_noise_sigma = 1.0
        self.sigmas = None

    def scale(self, x, i):
        return x

    def step(self, m, i, x, noise_fn):
        a_t = self.ac[int(self.timesteps[i])]
        x0, _ = x0_and_eps(self.cfg.get("prediction_type", "epsilon"), m, x, a_t)
        if self.cfg.get("clip_sample", False):
            r = self.cfg.get("clip_sample_range", 1.0)
            x0 = np.clip(x0, -r, r)
        if i == len(self.timesteps) - 1:
            return x0
        a_next = self.ac[int(self.timesteps[i + 1])]
        return a_next ** 0.5 * x0 + (1 - a_next) ** 0.5 * noise_fn(i + 1)

    def add_noise(self, x0, noise, i):
        a = self.ac[int(self.timesteps[i])]
        return a ** 0.5 * x0 + (1 - a) ** 0.5 * noise


# ---------------------------------------------------------------- cases


def fresh_noise(stream):
    i = np.arange(SAMPLE_SIZE)
    return f32(np.sin(1.3 * i + 0.7 * stream) * 1.1)


def fmt(values):
    return [float("%.9g" % v) for v in np.asarray(values, dtype=np.float64).ravel()]


def run_case(cls, cfg, n, spacing):
    s = cls(cfg, n, spacing)
    i = np.arange(SAMPLE_SIZE)
    x = f32(np.sin(i + 0.5) * s.init_noise_sigma)
    case = {
        "scheduler": cls.name,
        "steps": n,
        "config": cfg,
        "timesteps": fmt(s.timesteps),
        "init_noise_sigma": float("%.12g" % s.init_noise_sigma),
        "initial_sample": fmt(x),
    }
    if s.sigmas is not None:
        case["sigmas"] = fmt(s.sigmas)
    scaled_inputs, samples, noises = [], [], {}

    def noise_fn(stream):
        noises[str(stream)] = fmt(fresh_noise(stream))
        return fresh_noise(stream)

    for step in range(n):
        scaled = f32(s.scale(x, step))
        m = f32(0.5 * scaled + 0.1 * np.cos(i + step))
        x = f32(s.step(m, step, x, noise_fn))
        scaled_inputs.append(fmt(scaled))
        samples.append(fmt(x))
    # Only Euler scales its input; for the others the first scaled input shows the identity.
    case["scaled_inputs"] = scaled_inputs if s.scales_input and n <= FULL_TRAJECTORY_MAX_STEPS else scaled_inputs[:1]
    if n <= FULL_TRAJECTORY_MAX_STEPS:
        case["samples"] = samples
    else:
        case["final_sample"] = samples[-1]
    if noises:
        case["noise"] = noises

    original = f32(np.cos(0.3 * i))
    noise = f32(np.sin(0.7 * i + 1.0))
    add = []
    for step in sorted({0, n // 2, n - 1}):
        add.append({"step": step, "result": fmt(f32(s.add_noise(original, noise, step)))})
    case["add_noise"] = {"original": fmt(original), "noise": fmt(noise), "at": add}
    strengths = []
    for strength in (0.0, 0.3, 0.35, 0.5, 0.75, 1.0):
        init_timestep = min(int(n * strength), n)
        strengths.append({"strength": strength, "start_index": max(n - init_timestep, 0)})
    case["strength"] = strengths
    return case


def config(base, **overrides):
    cfg = dict(base)
    for key, value in overrides.items():
        if value is not None:
            cfg[key] = value
    return cfg


def cases_for(cls):
    out = []
    if cls in (Lcm, OneStep):
        counts = (1, 2, 4, 8) if cls is Lcm else (1, 2, 3, 4)
        for pred in ("epsilon", "v_prediction"):
            for n in counts:
                cfg = config(SD15, prediction_type=pred, _class_name="LCMScheduler" if cls is Lcm else None)
                out.append(run_case(cls, cfg, n, None))
        return out
    for spacing in cls.spacings:
        for pred in ("epsilon", "v_prediction"):
            for n in (1, 4, 10, 20, 50):
                cfg = config(SD15, prediction_type=pred, timestep_spacing=spacing)
                out.append(run_case(cls, cfg, n, spacing))
    # a few configurations off the SD1.5 path: the other beta schedules, x0 prediction, and
    # DDIM's own switches
    out.append(run_case(cls, config(SD15, prediction_type="sample", timestep_spacing="trailing"), 7, "trailing"))
    out.append(run_case(cls, config(SD15, beta_schedule="linear", beta_start=0.0001, beta_end=0.02,
                                     timestep_spacing="linspace"), 6, "linspace"))
    out.append(run_case(cls, config(SD15, beta_schedule="squaredcos_cap_v2", timestep_spacing="leading",
                                     prediction_type="v_prediction"), 8, "leading"))
    if cls is Ddim:
        # 1000/48 is inexact: numpy's arange lands just below the x.5 ties, so the trailing
        # timesteps round down where exact arithmetic would round half to even
        out.append(run_case(cls, config(SD15, timestep_spacing="trailing"), 48, "trailing"))
        out.append(run_case(cls, config(SD15, set_alpha_to_one=True, timestep_spacing="leading"), 5, "leading"))
        out.append(run_case(cls, config(SD15, clip_sample=True, clip_sample_range=0.8,
                                         timestep_spacing="trailing"), 5, "trailing"))
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.join(here, "..", "..", "pipeline", "src", "test", "resources", "scheduler")
    out_dir = sys.argv[1] if len(sys.argv) > 1 else default_out
    os.makedirs(out_dir, exist_ok=True)
    for cls in (Ddim, Euler, DpmSolverPP2M, Lcm, OneStep):
        path = os.path.join(out_dir, cls.name + ".json")
        with open(path, "w") as f:
            json.dump({"generator": "models/recipes/scheduler_reference.py", "numpy": np.__version__,
                       "cases": cases_for(cls)}, f, separators=(",", ":"))
            f.write("\n")
        print(path, os.path.getsize(path))


if __name__ == "__main__":
    main()
