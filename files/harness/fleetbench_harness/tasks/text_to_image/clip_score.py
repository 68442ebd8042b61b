"""CLIP score as the SDXL reference computes it (text_to_image/tools/clip/clip_encoder.py).

Score of one (caption, image): ``100 * cos(image_features, text_features)`` with open_clip
ViT-B/32 and the "openai" weights; the reported CLIP_SCORE is the mean over samples.

* image: resized so its short side is 224 (bicubic), centre-cropped to 224 x 224, scaled to
  [0, 1] and normalised with OpenAI CLIP's mean/std (open_clip's transform for this model);
* text: CLIP BPE (``<|startoftext|>`` + tokens + ``<|endoftext|>``, at most 77, zero padded,
  as ``open_clip.tokenize``), from the vocabulary of :mod:`.tokenizer`;
* model: OpenAI's TorchScript ``ViT-B-32.pt`` (``encode_image`` / ``encode_text``, loaded with
  ``torch.jit.load``: no open_clip import), or a transformers CLIP folder
  (``get_image_features`` / ``get_text_features``; also how the tests run a tiny random CLIP).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: OpenAI CLIP's image normalisation (open_clip constants OPENAI_DATASET_MEAN / _STD).
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
IMAGE_SIZE = 224


class ClipScorer:
    """A CLIP model + tokenizer that scores (caption, image) pairs.

    Args:
        model_path: ``ViT-B-32.pt`` (TorchScript) or a transformers CLIP folder.
        tokenizer: a CLIP tokenizer (``__call__(text).input_ids``; bos/eos ids 49406/49407).
    """

    def __init__(self, model_path: str | Path, tokenizer: Any, device: str = "cpu"):
        import torch

        self.torch = torch
        self.device = device
        self.tokenizer = tokenizer
        p = Path(model_path)
        if p.is_dir():
            from transformers import CLIPModel

            self.model = CLIPModel.from_pretrained(str(p), local_files_only=True).eval().to(device)
            self.kind = "transformers"
            self.image_size = int(self.model.config.vision_config.image_size)
        else:
            self.model = torch.jit.load(str(p), map_location=device).eval()
            self.kind = "torchscript"
            self.image_size = IMAGE_SIZE

    def tokens(self, text: str, context: int = 77):
        """(1, context) int64: sot + BPE + eot, truncated with eot kept last, zero padded."""
        ids = self.tokenizer(text, add_special_tokens=True, truncation=False).input_ids
        if len(ids) > context:
            ids = [*ids[: context - 1], self.tokenizer.eos_token_id]
        out = self.torch.zeros((1, context), dtype=self.torch.long)
        out[0, : len(ids)] = self.torch.tensor(ids)
        return out.to(self.device)

    def pixels(self, image: np.ndarray):
        """(1, 3, S, S) float: short side to S (bicubic), centre crop, OpenAI mean/std."""
        from PIL import Image

        s = self.image_size
        img = Image.fromarray(np.asarray(image, np.uint8)).convert("RGB")
        w, h = img.size
        scale = s / min(w, h)
        nw, nh = max(s, round(w * scale)), max(s, round(h * scale))
        img = img.resize((nw, nh), Image.Resampling.BICUBIC)
        left, top = (nw - s) // 2, (nh - s) // 2
        arr = np.asarray(img.crop((left, top, left + s, top + s)), np.float32) / 255.0
        arr = (arr - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)
        return self.torch.from_numpy(arr.transpose(2, 0, 1).copy()).unsqueeze(0).to(self.device)

    def score(self, caption: str, image: np.ndarray) -> float:
        """``100 * cosine`` of the caption's and the image's features."""
        torch = self.torch
        with torch.inference_mode():
            px, tok = self.pixels(image), self.tokens(caption)
            if self.kind == "transformers":
                img_f = _tensor(self.model.get_image_features(pixel_values=px))
                txt_f = _tensor(self.model.get_text_features(input_ids=tok))
            else:
                img_f, txt_f = self.model.encode_image(px), self.model.encode_text(tok)
            img_f = img_f.float() / img_f.float().norm(dim=-1, keepdim=True)
            txt_f = txt_f.float() / txt_f.float().norm(dim=-1, keepdim=True)
            return float(100.0 * (img_f @ txt_f.T).item())


def _tensor(out: Any):
    """transformers 5 may return a model output object instead of a tensor: take its pooled features."""
    if hasattr(out, "pooler_output"):
        return out.pooler_output
    return out
