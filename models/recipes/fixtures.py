#!/usr/bin/python3
"""Builds Kiln's tiny Stable-Diffusion-1.5-signature test fixture packages.

Three packages land in models/fixtures/, one per export flavour Kiln must load unchanged:

  sd15-tiny-diffusers  the original diffusers conversion script (int32 ids, float32 [B] timestep,
                       VAE encoder output `latent_sample`, slow-tokenizer files only)
  sd15-tiny-optimum    `optimum-cli export onnx` <= 1.23 (int64 ids, int64 [B] timestep,
                       `latent_parameters`, tokenizer.json)
  sd15-tiny-kiln       Kiln's own export (rank-0 float timestep, a separate value context
                       `encoder_hidden_states_v` for the cross-attention, kiln.json)

All three share one set of randomly initialised weights (fixed torch seeds), so for equal inputs
they give equal outputs; only the graph signatures differ. The weights are tiny (a few hundred
kilobytes per package) but every tensor crossing a model boundary has Stable Diffusion 1.5's
shape: 77 tokens, a 768-wide context, 4 latent channels, a latent factor of 8.

Next to the ONNX files the script writes the numbers Java tests compare against: a reference
tokenizer run (models/fixtures/tokenizer-reference.json) and, per package, reference.json with
PyTorch's outputs for fixed inputs. Running the script twice gives the same weights and the same
reference numbers (the ONNX bytes may differ: the exporter's node naming is not stable).

Needs only Debian's python3-torch (1.13) and python3-onnx:  /usr/bin/python3 models/recipes/fixtures.py
"""

import argparse
import json
import math
import shutil
import unicodedata
from collections import Counter
from pathlib import Path

import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------
# Constants of the Stable Diffusion 1.5 signature the fixtures keep
# ---------------------------------------------------------------------------------------------

MAX_TOKENS = 77          # CLIP's context length: the text encoder takes exactly this many ids
CONTEXT_WIDTH = 768      # width of the hidden states the UNet cross-attends to (CLIP ViT-L/14)
LATENT_CHANNELS = 4
LATENT_FACTOR = 8        # the VAE maps 8x8 pixels to one latent cell
SCALING_FACTOR = 0.18215 # SD1.x VAE scaling factor
BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
OPSET = 17

# Internal widths: small enough that a package stays around a megabyte, large enough that every
# mechanism (multi-head attention, GroupNorm groups, timestep MLP) is exercised for real.
TEXT_WIDTH = 32
TEXT_HEADS = 2
UNET_CHANNELS = 32
UNET_GROUPS = 8
TIME_PROJ_DIM = 32
# SD uses 4x the first block's width; 2x here, or the timestep MLP is the UNet's largest matrix
TIME_EMBED_DIM = 2 * UNET_CHANNELS
ATTN_HEADS = 2
ATTN_HEAD_DIM = 8

# One seed per component, so changing one model's architecture leaves the others' weights alone.
SEEDS = {"text_encoder": 1001, "unet": 1002, "vae_decoder": 1003, "vae_encoder": 1004, "calibration": 7}

# ---------------------------------------------------------------------------------------------
# Tokenizer: a tiny CLIP byte-level BPE, trained here on a built-in caption corpus
# ---------------------------------------------------------------------------------------------

# Captions in the style of prompts users send; the BPE merges are learned from these, so common
# prompt words ("a", "photo", "of", "style", colours, animals) become single tokens, as in CLIP.
CORPUS = """
a photo of an astronaut riding a horse on the moon
a photo of an astronaut riding a horse
a painting of a red fox in the snow, watercolor style
a cute cat emoji, flat vector style
a dog emoji and a cat emoji, emoji style
portrait of a young woman with blue eyes, oil painting
a golden retriever dog playing in a green field
an orange tabby cat sleeping on a wooden table
a black and white photo of a city street at night
a castle on a hill at sunset, fantasy art
a bowl of fruit with apples and bananas, still life
a purple dragon flying over the mountains
a small yellow bird sitting on a branch
a happy smiling face emoji with heart eyes
pixel art of a knight with a sword
a white horse running on the beach
a brown bear fishing in a river
an astronaut floating in space with the earth behind
a cozy cabin in the forest, winter, snow
a futuristic city with flying cars, cyberpunk style
a bowl of ramen noodles, food photography
a pink flamingo standing in the water
a grey elephant walking in the savanna
a green frog on a lily pad
a lion with a big mane, digital art
an owl at night under the full moon
a colorful parrot in the jungle
a high quality photo, 4k, highly detailed
a sketch of a rabbit, pencil drawing
an anime girl with long silver hair
a blue whale swimming in the deep ocean
a red sports car on a mountain road
a tiger in the tall grass, national geographic photo
a robot reading a book in a library
a cup of coffee on a table, morning light
a field of sunflowers under a blue sky
a panda eating bamboo, cartoon style
a fish emoji and a turtle emoji
a wolf howling at the moon
a horse and a rider in the desert
a vase of roses, impressionist painting
an old man with a white beard, portrait photo
a ship sailing on a stormy sea
a snowy mountain landscape, trending on artstation
a mouse with a piece of cheese
a unicorn with a rainbow mane
a teddy bear on a bed
a cat wearing a hat, studio lighting
a red apple, a green pear and a yellow lemon
a black cat and a white dog, photo style
"""

MAX_MERGES = 400

# Prompts whose ids the reference records: punctuation, case, contractions, digits (CLIP splits
# numbers into single digits), whitespace runs, a decomposed accent (NFC must compose it), other
# scripts, emoji (byte-level fallback), an empty prompt and one far longer than 77 tokens.
REFERENCE_PROMPTS = [
    "a photo of an astronaut riding a horse",
    "",
    "A Red FOX, in the snow!!! (watercolor style)",
    "it's a dog's life, isn't it? we're here, they'll see",
    "  multiple   spaces\tand\nnewlines  ",
    "1024 x 768 4k hdr, 3 cats",
    "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e and cafe\u0301 au lait",
    "a cute \U0001F431 emoji, pixel-art style \U0001F600\U0001F680",
    "zxqv unseen w\u00f6rds \u00f1and\u00fa \u65e5\u672c\u306e\u732b",
    "a very long prompt: " + ", ".join(
        ["a red fox", "a blue whale", "a golden retriever dog", "a purple dragon", "a snowy mountain",
         "a futuristic city", "oil painting", "pixel art", "studio lighting", "highly detailed",
         "a cozy cabin in the forest", "national geographic photo", "trending on artstation",
         "a bowl of ramen noodles", "an astronaut floating in space"] * 2),
]


def bytes_to_unicode():
    """CLIP's (and GPT-2's) reversible byte -> printable character table.

    Printable Latin-1 bytes map to themselves; the rest map to code points from 256 up, so every
    byte string becomes a string of visible characters BPE can work on. The dict's insertion order
    is the vocabulary order CLIP uses for its first 256 tokens.
    """
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) \
        + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


BYTE_ENCODER = bytes_to_unicode()
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]


def normalize(text):
    """The fast CLIP tokenizer's normalizer: NFC, whitespace runs to one space, lowercase.

    (CLIP's original Python tokenizer ran ftfy and html.unescape instead of NFC; Kiln uses the
    Hugging Face tokenizers library, so the reference follows tokenizer.json's normalizer.)
    """
    text = unicodedata.normalize("NFC", text)
    out, in_space = [], False
    for ch in text:
        if ch.isspace():
            if not in_space:
                out.append(" ")
            in_space = True
        else:
            out.append(ch)
            in_space = False
    return "".join(out).lower()


def _is_letter(ch):
    return unicodedata.category(ch).startswith("L")


def _is_number(ch):
    return unicodedata.category(ch).startswith("N")


def pre_tokenize(text):
    """Splits normalised text the way CLIP's regex does, without the third-party `regex` module:

        <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+

    At each position the alternatives are tried in that order (regex alternation is ordered),
    whitespace is never matched and so separates pieces.
    """
    pieces, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        special = next((s for s in (BOS, EOS) if text.startswith(s, i)), None)
        contraction = next((c for c in CONTRACTIONS if text.startswith(c, i)), None)
        if special or contraction:
            tok = special or contraction
            pieces.append(tok)
            i += len(tok)
        elif _is_letter(ch):
            j = i
            while j < n and _is_letter(text[j]):
                j += 1
            pieces.append(text[i:j])
            i = j
        elif _is_number(ch):
            pieces.append(ch)  # numbers split into single digits, as CLIP does
            i += 1
        else:
            j = i
            while j < n and not (text[j].isspace() or _is_letter(text[j]) or _is_number(text[j])):
                j += 1
            pieces.append(text[i:j])
            i = j
    return pieces


def word_symbols(piece):
    """A pre-token as BPE's starting symbols: its UTF-8 bytes as byte-level characters, the last
    one carrying CLIP's end-of-word marker."""
    chars = [BYTE_ENCODER[b] for b in piece.encode("utf-8")]
    chars[-1] += "</w>"
    return chars


def train_merges(corpus, max_merges):
    """Greedy BPE training: repeatedly merge the most frequent adjacent pair.

    Ties break on the pair itself so the result is deterministic. A pair whose merged string is
    already a token (reachable by two different splits) is skipped, because CLIP's vocabulary
    gives each merge a token of its own and a duplicate would shift every later id.
    """
    words = Counter()
    for line in corpus.strip().splitlines():
        for piece in pre_tokenize(normalize(line)):
            words[tuple(word_symbols(piece))] += 1
    known = set(BYTE_ENCODER.values()) | {c + "</w>" for c in BYTE_ENCODER.values()}
    merges = []
    while len(merges) < max_merges:
        pairs = Counter()
        for word, freq in words.items():
            for a, b in zip(word, word[1:]):
                pairs[(a, b)] += freq
        candidates = sorted((p for p in pairs if p[0] + p[1] not in known), key=lambda p: (-pairs[p], p))
        if not candidates:
            break
        best = candidates[0]
        merges.append(best)
        known.add(best[0] + best[1])
        merged = Counter()
        for word, freq in words.items():
            merged[tuple(_merge_pair(list(word), best))] += freq
        words = merged
    return merges


def _merge_pair(symbols, pair):
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == pair[0] and symbols[i + 1] == pair[1]:
            out.append(pair[0] + pair[1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


class ClipBpe:
    """The reference tokenizer: CLIP's algorithm over the tiny vocabulary."""

    def __init__(self, merges):
        self.merges = merges
        self.ranks = {m: i for i, m in enumerate(merges)}
        byte_chars = list(BYTE_ENCODER.values())
        # CLIP's vocabulary order: 256 byte characters, the same with </w>, one token per merge,
        # then the two special tokens last.
        tokens = byte_chars + [c + "</w>" for c in byte_chars] + [a + b for a, b in merges] + [BOS, EOS]
        assert len(set(tokens)) == len(tokens), "duplicate token in vocabulary"
        self.vocab = {t: i for i, t in enumerate(tokens)}
        self.bos_id = self.vocab[BOS]
        self.eos_id = self.vocab[EOS]

    def bpe(self, piece):
        """CLIP's merge loop: apply the lowest-ranked merge present, every occurrence left to
        right, until no known merge remains."""
        if piece in (BOS, EOS):
            return [piece]
        symbols = word_symbols(piece)
        while len(symbols) > 1:
            pairs = set(zip(symbols, symbols[1:]))
            best = min(pairs, key=lambda p: self.ranks.get(p, math.inf))
            if best not in self.ranks:
                break
            symbols = _merge_pair(symbols, best)
        return symbols

    def tokens(self, text):
        return [t for piece in pre_tokenize(normalize(text)) for t in self.bpe(piece)]

    def encode(self, text, max_tokens=MAX_TOKENS):
        """ids exactly `max_tokens` long: bos, tokens, eos, padded with eos (as SD1.5's tokenizer
        pads); a long prompt keeps bos, its first max_tokens-2 tokens and the closing eos."""
        body = [self.vocab[t] for t in self.tokens(text)]
        ids = [self.bos_id] + body[: max_tokens - 2] + [self.eos_id]
        return ids + [self.eos_id] * (max_tokens - len(ids)), len(body) + 2

    # -- files ---------------------------------------------------------------------------------

    def write_slow_files(self, folder):
        """vocab.json, merges.txt, special_tokens_map.json and tokenizer_config.json, as CLIP's
        slow tokenizer (and so the original diffusers ONNX script) saved them."""
        folder.mkdir(parents=True, exist_ok=True)
        _write_json(folder / "vocab.json", self.vocab, indent=None)
        with open(folder / "merges.txt", "w", encoding="utf-8", newline="\n") as f:
            f.write("#version: 0.2\n")
            for a, b in self.merges:
                f.write(f"{a} {b}\n")

        def added(content):
            return {"content": content, "lstrip": False, "normalized": True, "rstrip": False,
                    "single_word": False}

        _write_json(folder / "special_tokens_map.json", {
            "bos_token": added(BOS), "eos_token": added(EOS), "pad_token": EOS, "unk_token": added(EOS)})
        _write_json(folder / "tokenizer_config.json", {
            "add_prefix_space": False,
            "bos_token": dict(added(BOS), __type="AddedToken"),
            "do_lower_case": True,
            "eos_token": dict(added(EOS), __type="AddedToken"),
            "errors": "replace",
            "model_max_length": MAX_TOKENS,
            "pad_token": EOS,
            "tokenizer_class": "CLIPTokenizer",
            "unk_token": dict(added(EOS), __type="AddedToken"),
        })

    def tokenizer_json(self):
        """The Hugging Face tokenizers definition of CLIP's fast tokenizer, written by hand (the
        `tokenizers` Python package is not available here); field for field what
        transformers' CLIP converter produces, with this vocabulary."""
        split = "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [
                {"id": self.vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                 "normalized": True, "special": True} for t in (BOS, EOS)],
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "NFC"},
                {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
                {"type": "Lowercase"}]},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": split}, "behavior": "Removed", "invert": True},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
            "post_processor": {"type": "RobertaProcessing", "sep": [EOS, self.eos_id], "cls": [BOS, self.bos_id],
                               "trim_offsets": False, "add_prefix_space": False},
            # CLIP's tokenizer.json decodes with ByteLevel; the "</w>" markers survive decoding
            # (transformers strips them in Python afterwards), so the fixture keeps that quirk.
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": EOS, "continuing_subword_prefix": "",
                      "end_of_word_suffix": "</w>", "fuse_unk": False, "byte_fallback": False,
                      "vocab": self.vocab, "merges": [f"{a} {b}" for a, b in self.merges]},
        }


def _write_json(path, obj, indent=2):
    """Writes JSON as UTF-8. With an indent, lists of plain values stay on one line, so the
    reference files read (and diff) as one line per id list or value slice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, ensure_ascii=False) if indent is None else _dumps(obj, indent, 0)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text + "\n")


def _dumps(obj, indent, level):
    pad, inner = " " * (indent * level), " " * (indent * (level + 1))
    if isinstance(obj, dict) and obj:
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_dumps(v, indent, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        return "[\n" + ",\n".join(inner + _dumps(v, indent, level + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# Models (module names follow transformers' CLIP and diffusers, so ONNX node names read
# like a real export's: /mid_block/attentions.0/transformer_blocks.0/attn2/to_k/MatMul)
# ---------------------------------------------------------------------------------------------

def attention(q, k, v, heads, mask=None):
    """Scaled dot-product attention over [B, N, heads*d] projections; shapes stay symbolic so
    batch, sequence and spatial sizes remain dynamic in the export."""
    b, n = q.shape[0], q.shape[1]
    m = k.shape[1]
    q = q.reshape(b, n, heads, -1).transpose(1, 2)
    k = k.reshape(b, m, heads, -1).transpose(1, 2)
    v = v.reshape(b, m, heads, -1).transpose(1, 2)
    w = torch.matmul(q, k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
    if mask is not None:
        w = w + mask
    out = torch.matmul(w.softmax(dim=-1), v)
    return out.transpose(1, 2).reshape(b, n, -1)


class ClipAttention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(width, width)
        self.k_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x, mask):
        return self.out_proj(attention(self.q_proj(x), self.k_proj(x), self.v_proj(x), self.heads, mask))


class ClipMlp(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc1 = nn.Linear(width, 4 * width)
        self.fc2 = nn.Linear(4 * width, width)

    def forward(self, x):
        h = self.fc1(x)
        return self.fc2(h * torch.sigmoid(1.702 * h))  # CLIP's quick_gelu


class ClipEncoderLayer(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(width)
        self.self_attn = ClipAttention(width, heads)
        self.layer_norm2 = nn.LayerNorm(width)
        self.mlp = ClipMlp(width)

    def forward(self, x, mask):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class ClipEmbeddings(nn.Module):
    def __init__(self, vocab_size, width):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.position_embedding = nn.Embedding(MAX_TOKENS, width)

    def forward(self, input_ids):
        # positions 0..L-1; L is read from the ids so the sequence axis can stay dynamic
        return self.token_embedding(input_ids) + self.position_embedding.weight[:input_ids.shape[1]]


class ClipEncoder(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.layers = nn.ModuleList([ClipEncoderLayer(width, heads)])

    def forward(self, x, mask):
        for layer in self.layers:
            x = layer(x, mask)
        return x


class TinyClipTextModel(nn.Module):
    """CLIP's text transformer in miniature: token + position embeddings, one causal pre-LN
    layer at width 32, a projection up to SD's 768-wide context, the final LayerNorm.

    Outputs (last_hidden_state [B, L, 768], pooler_output [B, 768]); the pooled vector is the
    hidden state at the end-of-text token, found like CLIP does, as the argmax of the ids (the
    eos id is the largest in the vocabulary).
    """

    def __init__(self, vocab_size):
        super().__init__()
        self.embeddings = ClipEmbeddings(vocab_size, TEXT_WIDTH)
        self.encoder = ClipEncoder(TEXT_WIDTH, TEXT_HEADS)
        # The up-projection is not in CLIP (its width is 768 throughout); it keeps the fixture at
        # width 32 inside while the output has the width every SD1.x UNet expects.
        self.width_projection = nn.Linear(TEXT_WIDTH, CONTEXT_WIDTH)
        self.final_layer_norm = nn.LayerNorm(CONTEXT_WIDTH)
        causal = torch.full((MAX_TOKENS, MAX_TOKENS), torch.finfo(torch.float32).min).triu(1)
        self.register_buffer("causal_mask", causal, persistent=False)

    def forward(self, input_ids):
        length = input_ids.shape[1]
        mask = self.causal_mask[:length, :length]
        x = self.encoder(self.embeddings(input_ids), mask)
        hidden = self.final_layer_norm(self.width_projection(x))
        # CLIP casts to int32 before argmax (transformers does the same), which also keeps the
        # ArgMax on a dtype every ONNX Runtime build implements.
        eos = input_ids.to(torch.int32).argmax(dim=-1)
        pooled = hidden[torch.arange(hidden.shape[0]), eos]
        return hidden, pooled


class Timesteps(nn.Module):
    """diffusers' sinusoidal timestep projection with SD's settings (flip_sin_to_cos=True,
    downscale_freq_shift=0): [cos(t·f_i), sin(t·f_i)], f_i = 10000^(-i/half)."""

    def __init__(self, dim):
        super().__init__()
        half = dim // 2
        self.register_buffer("freqs", torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half),
                             persistent=False)

    def forward(self, t):
        args = t[:, None] * self.freqs[None, :]
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class TimestepEmbedding(nn.Module):
    def __init__(self, in_dim, dim):
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, temb_dim, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=1e-5)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb_dim, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=1e-5)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        skip = x if self.conv_shortcut is None else self.conv_shortcut(x)
        return skip + h


class Downsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Attention(nn.Module):
    """diffusers' Attention: to_q / to_k / to_v without bias, to_out.0 with bias.

    Keys come from `context_k` and values from `context_v`; for self-attention both are the
    input, for SD's cross-attention both are the text context. Kiln's export feeds them from two
    graph inputs, which is where hypernetworks change K and V independently.
    """

    def __init__(self, query_dim, context_dim, heads, head_dim):
        super().__init__()
        inner = heads * head_dim
        self.heads = heads
        self.to_q = nn.Linear(query_dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim, inner, bias=False)
        # index 1 is diffusers' Dropout; Identity keeps the parameter name `to_out.0`
        self.to_out = nn.ModuleList([nn.Linear(inner, query_dim), nn.Identity()])

    def forward(self, x, context_k=None, context_v=None):
        context_k = x if context_k is None else context_k
        context_v = context_k if context_v is None else context_v
        out = attention(self.to_q(x), self.to_k(context_k), self.to_v(context_v), self.heads)
        return self.to_out[1](self.to_out[0](out))


class GEGLU(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = nn.Linear(dim, 2 * inner)

    def forward(self, x):
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        # net.1 is diffusers' Dropout; Identity keeps the names net.0.proj and net.2
        self.net = nn.ModuleList([GEGLU(dim, 4 * dim), nn.Identity(), nn.Linear(4 * dim, dim)])

    def forward(self, x):
        for m in self.net:
            x = m(x)
        return x


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, context_dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, dim, ATTN_HEADS, ATTN_HEAD_DIM)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, context_dim, ATTN_HEADS, ATTN_HEAD_DIM)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(self, x, context_k, context_v):
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), context_k, context_v)
        return x + self.ff(self.norm3(x))


class Transformer2DModel(nn.Module):
    """SD1.5's spatial transformer (use_linear_projection=False: 1x1 conv projections)."""

    def __init__(self, channels, context_dim, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.proj_in = nn.Conv2d(channels, channels, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(channels, context_dim)])
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x, context_k, context_v):
        b, c, h, w = x.shape
        y = self.proj_in(self.norm(x))
        y = y.reshape(b, c, h * w).transpose(1, 2)
        for block in self.transformer_blocks:
            y = block(y, context_k, context_v)
        y = y.transpose(1, 2).reshape(b, c, h, w)
        return x + self.proj_out(y)


class DownBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(c, c, TIME_EMBED_DIM, UNET_GROUPS)])
        self.downsamplers = nn.ModuleList([Downsample2D(c)])

    def forward(self, x, temb):
        skip = self.resnets[0](x, temb)
        return self.downsamplers[0](skip), skip


class MidBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attentions = nn.ModuleList([Transformer2DModel(c, CONTEXT_WIDTH, UNET_GROUPS)])

    def forward(self, x, context_k, context_v):
        return self.attentions[0](x, context_k, context_v)


class UpBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.upsamplers = nn.ModuleList([Upsample2D(c)])
        # takes the upsampled features concatenated with the down block's skip, as SD's up blocks do
        self.resnets = nn.ModuleList([ResnetBlock2D(2 * c, c, TIME_EMBED_DIM, UNET_GROUPS)])

    def forward(self, x, skip, temb):
        return self.resnets[0](torch.cat([self.upsamplers[0](x), skip], dim=1), temb)


class TinyUNet(nn.Module):
    """A one-level UNet with SD1.5's interface.

    conv_in 4->32, a timestep-conditioned ResNet block, a stride-2 downsample, a spatial
    transformer (self-attention attn1, cross-attention attn2 over the 768-wide context), a
    nearest x2 upsample, a ResNet block over [upsampled, skip], GroupNorm, SiLU, conv_out 32->4.
    Latent height and width must be even (one x2 downsample); SD's 64-pixel size multiple gives
    latents in multiples of 8.

    The timestep may be float [B], int64 [B] or a rank-0 float shared by the batch: the forward
    pass adapts, so one module exports every flavour's signature with the same weights.
    """

    def __init__(self):
        super().__init__()
        c = UNET_CHANNELS
        self.time_proj = Timesteps(TIME_PROJ_DIM)
        self.time_embedding = TimestepEmbedding(TIME_PROJ_DIM, TIME_EMBED_DIM)
        self.conv_in = nn.Conv2d(LATENT_CHANNELS, c, 3, padding=1)
        self.down_blocks = nn.ModuleList([DownBlock(c)])
        self.mid_block = MidBlock(c)
        self.up_blocks = nn.ModuleList([UpBlock(c)])
        self.conv_norm_out = nn.GroupNorm(UNET_GROUPS, c, eps=1e-5)
        self.conv_out = nn.Conv2d(c, LATENT_CHANNELS, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states, encoder_hidden_states_v=None):
        t = timestep
        if t.dim() == 0:
            # one step for the whole batch: a [1, D] embedding broadcasts over the batch below
            t = t.reshape(1)
        temb = self.time_embedding(self.time_proj(t.to(torch.float32)))
        # calling the blocks (not their children) keeps the block names in the ONNX node scopes
        h, skip = self.down_blocks[0](self.conv_in(sample), temb)
        h = self.mid_block(h, encoder_hidden_states, encoder_hidden_states_v)
        h = self.up_blocks[0](h, skip, temb)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


class VaeDecoderBody(nn.Module):
    def __init__(self):
        super().__init__()
        chans = [32, 32, 16, 16]
        self.conv_in = nn.Conv2d(LATENT_CHANNELS, chans[0], 3, padding=1)
        self.up_blocks = nn.ModuleList()
        for cin, cout in zip(chans, chans[1:]):
            block = nn.Module()
            block.upsamplers = nn.ModuleList([nn.Conv2d(cin, cout, 3, padding=1)])
            self.up_blocks.append(block)
        self.conv_norm_out = nn.GroupNorm(8, chans[-1], eps=1e-6)
        self.conv_out = nn.Conv2d(chans[-1], 3, 3, padding=1)

    def forward(self, z):
        """Pixels before the output squashing (the calibration measures these)."""
        h = self.conv_in(z)
        for block in self.up_blocks:
            h = F.silu(block.upsamplers[0](F.interpolate(h, scale_factor=2.0, mode="nearest")))
        return self.conv_out(F.silu(self.conv_norm_out(h)))


class TinyVaeDecoder(nn.Module):
    """latent_sample [B,4,h,w] -> sample [B,3,8h,8w]: post_quant_conv, conv_in, three
    (nearest x2, 3x3 conv, SiLU) stages, GroupNorm, SiLU, conv_out, tanh.

    The tanh keeps pixels in [-1, 1] whatever the latent scale (SD's decoder is unbounded and
    pipelines clip; both are fine for a fixture). GroupNorm before conv_out normalises the
    features, so decoded images are never flat: they show the latent's 8x8 cells, smoothed and
    textured by the upsampling convolutions.
    """

    def __init__(self):
        super().__init__()
        self.post_quant_conv = nn.Conv2d(LATENT_CHANNELS, LATENT_CHANNELS, 1)
        self.decoder = VaeDecoderBody()

    def forward(self, latent_sample):
        return torch.tanh(self.decoder(self.post_quant_conv(latent_sample)))


class VaeEncoderBody(nn.Module):
    def __init__(self):
        super().__init__()
        chans = [16, 16, 32, 32]
        self.conv_in = nn.Conv2d(3, chans[0], 3, padding=1)
        self.down_blocks = nn.ModuleList()
        for cin, cout in zip(chans, chans[1:]):
            block = nn.Module()
            block.downsamplers = nn.ModuleList([nn.Conv2d(cin, cout, 3, stride=2, padding=1)])
            self.down_blocks.append(block)
        self.conv_norm_out = nn.GroupNorm(8, chans[-1], eps=1e-6)
        self.conv_out = nn.Conv2d(chans[-1], 2 * LATENT_CHANNELS, 3, padding=1)

    def forward(self, x):
        h = self.conv_in(x)
        for block in self.down_blocks:
            h = F.silu(block.downsamplers[0](h))
        return self.conv_out(F.silu(self.conv_norm_out(h)))


class TinyVaeEncoder(nn.Module):
    """sample [B,3,H,W] in [-1,1] -> posterior parameters [B,8,H/8,W/8] (mean, logvar).

    `mean_only` selects the diffusers flavour's output: diffusers' script exports
    `latent_dist.sample()`, mean + std * fresh noise, which an ONNX graph cannot reproduce
    deterministically; the fixture exports the mean instead, a deterministic latent of the same
    name, shape and scale.
    """

    def __init__(self):
        super().__init__()
        self.encoder = VaeEncoderBody()
        self.quant_conv = nn.Conv2d(2 * LATENT_CHANNELS, 2 * LATENT_CHANNELS, 1)
        self.mean_only = False

    def forward(self, sample):
        moments = self.quant_conv(self.encoder(sample))
        return moments[:, :LATENT_CHANNELS] if self.mean_only else moments


# ---------------------------------------------------------------------------------------------
# Building and calibrating the weights
# ---------------------------------------------------------------------------------------------

def round_sig(x, digits=3):
    """Calibration gains are rounded so tiny float differences in the measurement (another BLAS,
    another thread count) cannot change the weights written."""
    return float(f"{x:.{digits}g}")


def jitter_norms(model):
    """Gives every LayerNorm / GroupNorm a random affine (scale near 1, small shift) instead of
    PyTorch's identity init: a trained model's norms are never identity, an export that dropped
    the affine would otherwise pass, and a zero-mean LayerNorm output would make sums useless
    as checks."""
    for m in model.modules():
        if isinstance(m, (nn.LayerNorm, nn.GroupNorm)):
            m.weight.copy_(1 + 0.1 * torch.randn_like(m.weight))
            m.bias.copy_(0.1 * torch.randn_like(m.bias))
    return model


@torch.no_grad()
def build_models(vocab_size, bpe):
    torch.manual_seed(SEEDS["text_encoder"])
    text_encoder = jitter_norms(TinyClipTextModel(vocab_size).eval())
    torch.manual_seed(SEEDS["unet"])
    unet = jitter_norms(TinyUNet().eval())
    torch.manual_seed(SEEDS["vae_decoder"])
    vae_decoder = jitter_norms(TinyVaeDecoder().eval())
    torch.manual_seed(SEEDS["vae_encoder"])
    vae_encoder = jitter_norms(TinyVaeEncoder().eval())

    gen = torch.Generator().manual_seed(SEEDS["calibration"])
    prompts = [line for line in CORPUS.strip().splitlines()[:6]] + [""] * 2
    ids = torch.tensor([bpe.encode(p)[0] for p in prompts], dtype=torch.int64)
    context, _ = text_encoder(ids)

    # UNet: unit-variance output for unit-variance input (what a scheduler feeds after input
    # scaling), so samplers neither blow up nor stall on the fixture.
    sample = torch.randn(len(prompts), LATENT_CHANNELS, 16, 16, generator=gen)
    t = torch.linspace(0, 999, len(prompts))
    gain = round_sig(1.0 / unet(sample, t, context).std().item())
    unet.conv_out.weight.mul_(gain)
    unet.conv_out.bias.mul_(gain)

    # VAE decoder: the pipeline decodes latents / 0.18215 (std about 5.5); aim the pre-tanh
    # activations at std 0.75 so pictures use the range without saturating to flat colour.
    latents = torch.randn(4, LATENT_CHANNELS, 8, 8, generator=gen) / SCALING_FACTOR
    d = vae_decoder.decoder
    gain = round_sig(0.75 / d(vae_decoder.post_quant_conv(latents)).std().item())
    d.conv_out.weight.mul_(gain)
    d.conv_out.bias.mul_(gain)

    # VAE encoder: SD's unscaled latents have std about 1/0.18215, so that scaled latents are
    # near unit variance; calibrate the mean channels to that. The log-variance channels get a
    # small spread around -6 (a narrow posterior, as SD's VAE has).
    images = torch.rand(4, 3, 64, 64, generator=gen) * 2 - 1
    vae_encoder.mean_only = False
    moments = vae_encoder(images)
    gain = round_sig((1.0 / SCALING_FACTOR) / moments[:, :LATENT_CHANNELS].std().item())
    q = vae_encoder.quant_conv
    q.weight[:LATENT_CHANNELS].mul_(gain)
    q.bias[:LATENT_CHANNELS].mul_(gain)
    spread = round_sig(0.5 / moments[:, LATENT_CHANNELS:].std().item())
    q.weight[LATENT_CHANNELS:].mul_(spread)
    q.bias[LATENT_CHANNELS:].fill_(-6.0)
    return text_encoder, unet, vae_decoder, vae_encoder


def param_count(m):
    return sum(p.numel() for p in m.parameters())


# ---------------------------------------------------------------------------------------------
# Flavours: what each export's signature looks like
# ---------------------------------------------------------------------------------------------

FLAVOURS = {
    # The original diffusers script (scripts/convert_stable_diffusion_checkpoint_to_onnx.py):
    # int32 ids, float timestep [B], dynamic axes exactly as that script declares them.
    "sd15-tiny-diffusers": {
        "ids_dtype": torch.int32,
        "timestep": "float_vector",
        "vae_encoder_output": "latent_sample",
        "separate_v": False,
        "tokenizer_json": False,
        "axes": {
            "text_encoder": {"input_ids": {0: "batch", 1: "sequence"}},
            "unet": {"sample": {0: "batch", 1: "channels", 2: "height", 3: "width"}, "timestep": {0: "batch"},
                     "encoder_hidden_states": {0: "batch", 1: "sequence"}},
            "vae_encoder": {"sample": {0: "batch", 1: "channels", 2: "height", 3: "width"}},
            "vae_decoder": {"latent_sample": {0: "batch", 1: "channels", 2: "height", 3: "width"}},
        },
    },
    # optimum-cli export onnx (<= 1.23): int64 ids and timestep, latent_parameters, optimum's
    # dynamic axis names (the timestep's axis is "steps" there).
    "sd15-tiny-optimum": {
        "ids_dtype": torch.int64,
        "timestep": "int64_vector",
        "vae_encoder_output": "latent_parameters",
        "separate_v": False,
        "tokenizer_json": True,
        "axes": {
            "text_encoder": {"input_ids": {0: "batch_size", 1: "sequence_length"},
                             "last_hidden_state": {0: "batch_size", 1: "sequence_length"},
                             "pooler_output": {0: "batch_size"}},
            "unet": {"sample": {0: "batch_size", 1: "num_channels", 2: "height", 3: "width"},
                     "timestep": {0: "steps"},
                     "encoder_hidden_states": {0: "batch_size", 1: "sequence_length", 2: "feature_dim"},
                     "out_sample": {0: "batch_size", 1: "num_channels", 2: "height", 3: "width"}},
            "vae_encoder": {"sample": {0: "batch_size", 1: "num_channels", 2: "height", 3: "width"},
                            "latent_parameters": {0: "batch_size", 1: "num_channels_latent",
                                                  2: "height_latent", 3: "width_latent"}},
            "vae_decoder": {"latent_sample": {0: "batch_size", 1: "num_channels_latent", 2: "height_latent",
                                              3: "width_latent"},
                            "sample": {0: "batch_size", 1: "num_channels", 2: "height", 3: "width"}},
        },
    },
    # Kiln's own export: static where SD1.5's layout is fixed (77 tokens, 768 wide, 4 channels),
    # dynamic in batch and picture size only; rank-0 timestep; separate value context.
    "sd15-tiny-kiln": {
        "ids_dtype": torch.int64,
        "timestep": "float_scalar",
        "vae_encoder_output": "latent_parameters",
        "separate_v": True,
        "tokenizer_json": True,
        "axes": {
            "text_encoder": {"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"},
                             "pooler_output": {0: "batch"}},
            "unet": {"sample": {0: "batch", 2: "height", 3: "width"}, "encoder_hidden_states": {0: "batch"},
                     "encoder_hidden_states_v": {0: "batch"}, "out_sample": {0: "batch", 2: "height", 3: "width"}},
            "vae_encoder": {"sample": {0: "batch", 2: "height", 3: "width"},
                            "latent_parameters": {0: "batch", 2: "latent_height", 3: "latent_width"}},
            "vae_decoder": {"latent_sample": {0: "batch", 2: "latent_height", 3: "latent_width"},
                            "sample": {0: "batch", 2: "height", 3: "width"}},
        },
    },
}


def sin_tensor(shape, scale, freq, phase):
    """The deterministic inputs of reference.json: x[i] = scale * sin(freq * i + phase), i the
    row-major flat index, computed in float64 and rounded to float32 (easy to rebuild in Java)."""
    n = math.prod(shape)
    i = torch.arange(n, dtype=torch.float64)
    return (scale * torch.sin(freq * i + phase)).to(torch.float32).reshape(shape)


def timestep_tensor(flavour, values):
    kind = FLAVOURS[flavour]["timestep"]
    if kind == "float_scalar":
        assert len(set(values)) == 1
        return torch.tensor(float(values[0]), dtype=torch.float32)
    dtype = torch.int64 if kind == "int64_vector" else torch.float32
    return torch.tensor(values, dtype=dtype)


def export(model, args, path, input_names, output_names, dynamic_axes):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, args, str(path), input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True)
    onnx.checker.check_model(str(path), full_check=True)


def pin_output_dim(path, output, axis, value):
    model = onnx.load(str(path))
    (out,) = [o for o in model.graph.output if o.name == output]
    out.type.tensor_type.shape.dim[axis].Clear()
    out.type.tensor_type.shape.dim[axis].dim_value = value
    onnx.save(model, str(path))
    onnx.checker.check_model(str(path), full_check=True)


@torch.no_grad()
def export_package(name, root, models, bpe):
    flavour = FLAVOURS[name]
    text_encoder, unet, vae_decoder, vae_encoder = models
    axes = flavour["axes"]
    ids = torch.tensor([bpe.encode("a photo of an astronaut riding a horse")[0]] * 2, dtype=flavour["ids_dtype"])
    export(text_encoder, (ids,), root / "text_encoder/model.onnx", ["input_ids"],
           ["last_hidden_state", "pooler_output"], axes["text_encoder"])
    if 1 not in axes["text_encoder"]["input_ids"]:
        # the tracer reads the sequence length through a Shape op and so leaves the output's
        # length symbolic even with a static input; declare the 77 it always is
        pin_output_dim(root / "text_encoder/model.onnx", "last_hidden_state", 1, MAX_TOKENS)

    sample = torch.randn(2, LATENT_CHANNELS, 8, 8)
    context = torch.randn(2, MAX_TOKENS, CONTEXT_WIDTH)
    t = timestep_tensor(name, [999, 999])
    if flavour["separate_v"]:
        args, names = (sample, t, context, context.clone()), ["sample", "timestep", "encoder_hidden_states",
                                                             "encoder_hidden_states_v"]
    else:
        args, names = (sample, t, context), ["sample", "timestep", "encoder_hidden_states"]
    export(unet, args, root / "unet/model.onnx", names, ["out_sample"], axes["unet"])

    vae_encoder.mean_only = flavour["vae_encoder_output"] == "latent_sample"
    export(vae_encoder, (torch.rand(1, 3, 64, 64) * 2 - 1,), root / "vae_encoder/model.onnx", ["sample"],
           [flavour["vae_encoder_output"]], axes["vae_encoder"])
    export(vae_decoder, (torch.randn(1, LATENT_CHANNELS, 8, 8),), root / "vae_decoder/model.onnx",
           ["latent_sample"], ["sample"], axes["vae_decoder"])
    vae_encoder.mean_only = False


# ---------------------------------------------------------------------------------------------
# Checking the exported signatures
# ---------------------------------------------------------------------------------------------

ONNX_DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.INT32: "int32", onnx.TensorProto.INT64: "int64"}


def signature(path):
    """{name: (dtype, [dims])} for a model's inputs and outputs; symbolic dims as their names."""
    model = onnx.load(str(path), load_external_data=False)

    def spec(values):
        out = {}
        for v in values:
            t = v.type.tensor_type
            dims = [d.dim_param if d.dim_param else d.dim_value for d in t.shape.dim]
            out[v.name] = (ONNX_DTYPES[t.elem_type], dims)
        return out

    return spec(model.graph.input), spec(model.graph.output), model


def expected_signature(name):
    """What each flavour's files must declare: SD1.5's dims, the flavour's dtypes and axes."""
    f = FLAVOURS[name]
    ax = f["axes"]

    def dims(component, tensor, static):
        named = ax[component].get(tensor, {})
        return [named.get(i, d) for i, d in enumerate(static)]

    ids = "int32" if f["ids_dtype"] == torch.int32 else "int64"
    t_dtype = "int64" if f["timestep"] == "int64_vector" else "float32"
    t_dims = [] if f["timestep"] == "float_scalar" else dims("unet", "timestep", [2])
    unet_in = {"sample": ("float32", dims("unet", "sample", [2, 4, 8, 8])),
               "timestep": (t_dtype, t_dims),
               "encoder_hidden_states": ("float32", dims("unet", "encoder_hidden_states", [2, 77, 768]))}
    if f["separate_v"]:
        unet_in["encoder_hidden_states_v"] = ("float32", dims("unet", "encoder_hidden_states_v", [2, 77, 768]))
    enc_out = f["vae_encoder_output"]
    return {
        "text_encoder": ({"input_ids": (ids, dims("text_encoder", "input_ids", [2, 77]))},
                         {"last_hidden_state": "float32", "pooler_output": "float32"}),
        "unet": (unet_in, {"out_sample": "float32"}),
        "vae_encoder": ({"sample": ("float32", dims("vae_encoder", "sample", [1, 3, 64, 64]))}, {enc_out: "float32"}),
        "vae_decoder": ({"latent_sample": ("float32", dims("vae_decoder", "latent_sample", [1, 4, 8, 8]))},
                        {"sample": "float32"}),
    }


def check_signatures(name, root):
    found = {}
    for component, (inputs, outputs) in expected_signature(name).items():
        got_in, got_out, model = signature(root / component / "model.onnx")
        assert got_in == inputs, f"{name}/{component} inputs: expected {inputs}, got {got_in}"
        assert {k: v[0] for k, v in got_out.items()} == outputs, f"{name}/{component} outputs: {got_out}"
        found[component] = {"inputs": got_in, "outputs": got_out}
        if component == "unet":
            # the hypernetwork graph edit finds the cross-attention projections by node name
            nodes = [n.name for n in model.graph.node]
            for proj in ("/mid_block/attentions.0/transformer_blocks.0/attn2/to_k/",
                         "/mid_block/attentions.0/transformer_blocks.0/attn2/to_v/", "attn1/to_q/"):
                assert any(proj in n for n in nodes), f"{name}/unet: no node named like {proj}: {nodes[:20]}"
    return found


# ---------------------------------------------------------------------------------------------
# Package files and reference numbers
# ---------------------------------------------------------------------------------------------

def write_package_files(name, root, bpe):
    f = FLAVOURS[name]
    _write_json(root / "model_index.json", {
        "_class_name": "OnnxStableDiffusionPipeline",
        "_diffusers_version": "0.6.0",
        "feature_extractor": [None, None],
        "requires_safety_checker": False,
        "safety_checker": [None, None],
        "scheduler": ["diffusers", "PNDMScheduler"],
        "text_encoder": ["diffusers", "OnnxRuntimeModel"],
        "tokenizer": ["transformers", "CLIPTokenizerFast" if f["tokenizer_json"] else "CLIPTokenizer"],
        "unet": ["diffusers", "OnnxRuntimeModel"],
        "vae_decoder": ["diffusers", "OnnxRuntimeModel"],
        "vae_encoder": ["diffusers", "OnnxRuntimeModel"],
    })
    # SD1.5's scheduler_config.json, value for value
    _write_json(root / "scheduler/scheduler_config.json", {
        "_class_name": "PNDMScheduler",
        "_diffusers_version": "0.6.0",
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "beta_start": 0.00085,
        "clip_sample": False,
        "num_train_timesteps": 1000,
        "set_alpha_to_one": False,
        "skip_prk_steps": True,
        "steps_offset": 1,
        "trained_betas": None,
    })
    bpe.write_slow_files(root / "tokenizer")
    if f["tokenizer_json"]:
        _write_json(root / "tokenizer/tokenizer.json", bpe.tokenizer_json(), indent=None)
    if name == "sd15-tiny-optimum":
        # optimum saves each component's config next to its model; the VAE's carries the
        # scaling factor (the diffusers flavour has none, so loaders fall back to 0.18215)
        _write_json(root / "vae_decoder/config.json", {
            "_class_name": "AutoencoderKL", "_diffusers_version": "0.30.0", "in_channels": 3, "out_channels": 3,
            "latent_channels": LATENT_CHANNELS, "sample_size": 64, "scaling_factor": SCALING_FACTOR})
    if name == "sd15-tiny-kiln":
        _write_json(root / "kiln.json", {
            "format": 1,
            "conditioning": {"context_width": CONTEXT_WIDTH, "max_tokens": MAX_TOKENS,
                             "latent_channels": LATENT_CHANNELS, "scaling_factor": SCALING_FACTOR,
                             "latent_factor": LATENT_FACTOR, "image_size": 64, "size_multiple": 64},
            "defaults": {"steps": 20, "scheduler": "euler", "guidance": 7.5},
            "components": {},
        })


FIRST = 16
STRIDED = 16


def summarize(tensor):
    """Numbers a test can compare without shipping whole tensors: the first values, values spread
    evenly over the tensor, and aggregates (computed in float64 over the float32 values)."""
    flat = tensor.detach().reshape(-1).to(torch.float32)
    n = flat.numel()
    stride = max(1, n // STRIDED)
    d = flat.to(torch.float64)
    return {
        "dtype": "float32",
        "shape": list(tensor.shape),
        "first": [float(v) for v in flat[:FIRST]],
        "strided": {"stride": stride, "values": [float(flat[i * stride]) for i in range(min(STRIDED, n))]},
        "sum": float(d.sum()),
        "mean_abs": float(d.abs().mean()),
        "min": float(d.min()),
        "max": float(d.max()),
    }


def describe_input(tensor, sin=None, prompts=None):
    dtype = {torch.float32: "float32", torch.int32: "int32", torch.int64: "int64"}[tensor.dtype]
    spec = {"dtype": dtype, "shape": list(tensor.shape)}
    if sin is not None:
        spec["sin"] = dict(zip(("scale", "freq", "phase"), sin))
    else:
        spec["values"] = tensor.reshape(-1).tolist()
    if prompts is not None:
        spec["prompts"] = prompts
    return spec


# the fixed inputs (scale, freq, phase) of the reference cases
SIN_SAMPLE = (1.0, 0.37, 0.1)
SIN_CONTEXT = (1.0, 0.011, 0.3)
SIN_CONTEXT_V = (0.8, 0.023, 1.1)
SIN_IMAGE = (0.9, 0.05, 0.0)
SIN_LATENT = (3.0, 0.21, 0.5)
REFERENCE_PROMPT = "a photo of an astronaut riding a horse"


@torch.no_grad()
def reference_cases(name, models, bpe):
    f = FLAVOURS[name]
    text_encoder, unet, vae_decoder, vae_encoder = models
    cases = []

    prompts = ["", REFERENCE_PROMPT]  # [uncond, cond], the order a CFG batch uses
    ids = torch.tensor([bpe.encode(p)[0] for p in prompts], dtype=f["ids_dtype"])
    hidden, pooled = text_encoder(ids)
    cases.append({"name": "text_encoder", "model": "text_encoder/model.onnx",
                  "inputs": {"input_ids": describe_input(ids, prompts=prompts)},
                  "outputs": {"last_hidden_state": summarize(hidden), "pooler_output": summarize(pooled)}})

    sample = sin_tensor([2, LATENT_CHANNELS, 8, 8], *SIN_SAMPLE)
    context = sin_tensor([2, MAX_TOKENS, CONTEXT_WIDTH], *SIN_CONTEXT)
    context_v = sin_tensor([2, MAX_TOKENS, CONTEXT_WIDTH], *SIN_CONTEXT_V)
    if f["timestep"] == "float_scalar":
        # one timestep per call: t=999 with the values fed the same context as the keys (equal
        # to the stock flavours' first row), then t=500 with a different value context
        for t, v_sin in ((999, SIN_CONTEXT), (500, SIN_CONTEXT_V)):
            v = sin_tensor([2, MAX_TOKENS, CONTEXT_WIDTH], *v_sin)
            ts = timestep_tensor(name, [t, t])
            out = unet(sample, ts, context, v)
            cases.append({"name": f"unet_t{t}", "model": "unet/model.onnx", "inputs": {
                "sample": describe_input(sample, sin=SIN_SAMPLE), "timestep": describe_input(ts),
                "encoder_hidden_states": describe_input(context, sin=SIN_CONTEXT),
                "encoder_hidden_states_v": describe_input(v, sin=v_sin)},
                "outputs": {"out_sample": summarize(out)}})
    else:
        ts = timestep_tensor(name, [999, 500])
        out = unet(sample, ts, context)
        cases.append({"name": "unet", "model": "unet/model.onnx", "inputs": {
            "sample": describe_input(sample, sin=SIN_SAMPLE), "timestep": describe_input(ts),
            "encoder_hidden_states": describe_input(context, sin=SIN_CONTEXT)},
            "outputs": {"out_sample": summarize(out)}})

    image = sin_tensor([1, 3, 64, 64], *SIN_IMAGE)
    vae_encoder.mean_only = f["vae_encoder_output"] == "latent_sample"
    latent = vae_encoder(image)
    vae_encoder.mean_only = False
    cases.append({"name": "vae_encoder", "model": "vae_encoder/model.onnx",
                  "inputs": {"sample": describe_input(image, sin=SIN_IMAGE)},
                  "outputs": {f["vae_encoder_output"]: summarize(latent)}})

    z = sin_tensor([1, LATENT_CHANNELS, 8, 8], *SIN_LATENT)
    cases.append({"name": "vae_decoder", "model": "vae_decoder/model.onnx",
                  "inputs": {"latent_sample": describe_input(z, sin=SIN_LATENT)},
                  "outputs": {"sample": summarize(vae_decoder(z))}})
    return cases


def tokenizer_reference(bpe):
    entries = []
    for p in REFERENCE_PROMPTS:
        ids, length = bpe.encode(p)
        entries.append({"prompt": p, "ids": ids, "length": length, "truncated": length > MAX_TOKENS,
                        "tokens": bpe.tokens(p)})
    return {
        "format": 1,
        "description": "CLIP BPE reference ids for the fixtures' shared vocabulary: bos, tokens, eos, padded "
                       "with eos to max_tokens; a longer prompt keeps bos, its first max_tokens-2 tokens and "
                       "eos. `length` counts bos and eos before padding or truncation; `tokens` are the BPE "
                       "pieces (byte-level characters, '</w>' ends a word).",
        "max_tokens": MAX_TOKENS, "vocab_size": len(bpe.vocab), "bos_id": bpe.bos_id, "eos_id": bpe.eos_id,
        "pad_id": bpe.eos_id, "prompts": entries,
    }


# ---------------------------------------------------------------------------------------------
# A sampling sanity check: the fixture must behave like a (useless but tame) diffusion model
# ---------------------------------------------------------------------------------------------

@torch.no_grad()
def sanity_check(models, bpe):
    """20 Euler steps (leading spacing, CFG 7.5) at 64x64, then decode: latents must stay finite
    and bounded, and the decoded pictures must not be flat."""
    text_encoder, unet, vae_decoder, _ = models
    ids = torch.tensor([bpe.encode(p)[0] for p in ["", REFERENCE_PROMPT]], dtype=torch.int64)
    context, _ = text_encoder(ids)
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    alphas = torch.cumprod(1 - betas, 0)
    sigmas_all = ((1 - alphas) / alphas).sqrt()
    steps = 20
    timesteps = (torch.arange(steps) * (1000 // steps)).flip(0) + 1
    sigmas = torch.cat([sigmas_all[timesteps], torch.zeros(1, dtype=torch.float64)])
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, LATENT_CHANNELS, 8, 8, generator=gen, dtype=torch.float64) * (sigmas[0] ** 2 + 1).sqrt()
    for i, t in enumerate(timesteps):
        s = sigmas[i]
        inp = (x / (s ** 2 + 1).sqrt()).to(torch.float32).repeat(2, 1, 1, 1)
        eps = unet(inp, torch.tensor([float(t)] * 2), context).to(torch.float64)
        eps = eps[:1] + 7.5 * (eps[1:] - eps[:1])
        x = x + eps * (sigmas[i + 1] - s)  # Euler: x0 = x - s*eps, x_next = x + (x - x0)/s * ds
    image = vae_decoder((x / SCALING_FACTOR).to(torch.float32))
    pixels = (image / 2 + 0.5).clamp(0, 1)
    stats = {"latent_std": float(x.std()), "latent_absmax": float(x.abs().max()),
             "pixel_std": float(pixels.std()), "pixel_mean": float(pixels.mean())}
    assert torch.isfinite(x).all() and stats["latent_absmax"] < 200, stats
    assert stats["pixel_std"] > 0.05, f"decoded picture is flat: {stats}"
    return stats


# ---------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "fixtures",
                        help="folder the packages go to (default: models/fixtures)")
    args = parser.parse_args()
    # one thread: identical float reductions on every run, so calibration and reference numbers
    # repeat exactly (the models are tiny; speed does not matter)
    torch.set_num_threads(1)

    merges = train_merges(CORPUS, MAX_MERGES)
    bpe = ClipBpe(merges)
    print(f"tokenizer: {len(merges)} merges, vocab {len(bpe.vocab)}, bos {bpe.bos_id}, eos {bpe.eos_id}")
    models = build_models(len(bpe.vocab), bpe)
    for label, m in zip(("text_encoder", "unet", "vae_decoder", "vae_encoder"), models):
        print(f"{label}: {param_count(m)} parameters")

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "tokenizer-reference.json", tokenizer_reference(bpe))
    for name in FLAVOURS:
        root = out / name
        if root.exists():
            shutil.rmtree(root)  # a clean folder: no stale files from an older layout
        write_package_files(name, root, bpe)
        # the exporter traces with its own dummy inputs; seed them so nothing else varies
        torch.manual_seed(0)
        export_package(name, root, models, bpe)
        signatures = check_signatures(name, root)
        _write_json(root / "reference.json", {
            "format": 1,
            "package": name,
            "generator": "inputs with `sin` are x[i] = scale * sin(freq * i + phase), i the row-major flat "
                         "index, computed in float64 and rounded to float32; inputs with `values` list them "
                         "row-major",
            "tolerance": {"abs": 1e-4, "note": "elementwise for first/strided/min/max/mean_abs; "
                                               "sum within abs * element count"},
            "signatures": {c: {"inputs": {k: {"dtype": v[0], "shape": v[1]} for k, v in s["inputs"].items()},
                               "outputs": {k: {"dtype": v[0], "shape": v[1]} for k, v in s["outputs"].items()}}
                           for c, s in signatures.items()},
            "cases": reference_cases(name, models, bpe),
        })
        print(f"{name}: written")
    print("sanity:", sanity_check(models, bpe))


if __name__ == "__main__":
    main()
