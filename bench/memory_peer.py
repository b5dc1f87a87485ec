"""PyTorch CPU peers of `deno task bench --only memory` (Debian's PyTorch 1.13, 2 threads).

  memory_peer.py transcribe FIXTURES_DIR CHECKPOINT AUDIO   -> {"text", "seconds", "peak_rss_bytes"}
  memory_peer.py train FIXTURES_DIR LIST_TSV STEPS          -> {"losses", "steps_per_s", "peak_rss_bytes"}

transcribe: the tutorial's inference on one whole recording: torchaudio.load, MelSpectrogram(n_mels=128) (log
of it + 1e-6 for "logmel" checkpoints), the model in eval mode under no_grad, greedy decoding. train: the tutorial
model's training step (AdamW, CTC) on the batch listed in LIST_TSV (one `file<TAB>transcript` a line; the WAVs
are 16 kHz). Peak RSS is the process's ru_maxrss, as `/usr/bin/time -v` reports it.
"""
import json
import resource
import sys
import time

import torch
import torch.nn.functional as F
import torchaudio

sys.path.insert(0, sys.argv[2])
from reference_model import BLANK, CHARS, SpeechRecognitionModel, config_from_metadata, greedy_decode  # noqa
from st_io import read_safetensors  # noqa: E402

torch.set_num_threads(2)


def peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def load_model(path):
    tensors, metadata = read_safetensors(path)
    cfg = config_from_metadata(metadata)
    model = SpeechRecognitionModel(**cfg)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()}, strict=True)
    return model, metadata.get("features", "mel")


def features(mel, waveform, kind):
    spec = mel(waveform)
    return torch.log(spec + 1e-6) if kind == "logmel" else spec


def transcribe(checkpoint, audio):
    t0 = time.perf_counter()
    model, kind = load_model(checkpoint)
    model.eval()
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=16000, n_mels=128)
    waveform, rate = torchaudio.load(audio)
    assert rate == 16000, rate
    with torch.no_grad():
        spec = features(mel, waveform.mean(0, keepdim=True), kind).unsqueeze(0)  # (1, 1, 128, frames)
        length = spec.shape[-1] // 2
        logits = model(spec, torch.tensor([length]))[0]
        text = greedy_decode(logits, length)
    return {"text": text, "seconds": time.perf_counter() - t0, "peak_rss_bytes": peak_rss()}


def train(list_tsv, steps):
    model = SpeechRecognitionModel(3, 5, 512, 29, 128, 2, 0.1, gru_layout="default")
    model.train()
    opt = torch.optim.AdamW(model.parameters(), 5e-4)
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=16000, n_mels=128)
    specs, labels = [], []
    for line in open(list_tsv):
        path, text = line.rstrip("\n").split("\t")
        waveform, _ = torchaudio.load(path)
        specs.append(mel(waveform)[0].transpose(0, 1))
        labels.append(torch.tensor([CHARS.index(c) for c in text]))
    spec = torch.nn.utils.rnn.pad_sequence(specs, batch_first=True).unsqueeze(1).transpose(2, 3)
    targets = torch.nn.utils.rnn.pad_sequence(labels, batch_first=True)
    input_lengths = torch.tensor([s.shape[0] // 2 for s in specs])
    target_lengths = torch.tensor([len(l) for l in labels])
    losses = []
    t0 = None
    for k in range(steps + 1):
        if k == 1:
            t0 = time.perf_counter()
        opt.zero_grad()
        logits = model(spec, input_lengths)
        log_probs = F.log_softmax(logits, dim=2).transpose(0, 1)
        loss = F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=BLANK, zero_infinity=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    rate = steps / (time.perf_counter() - t0)
    return {"losses": losses, "steps_per_s": rate, "peak_rss_bytes": peak_rss()}


if __name__ == "__main__":
    if sys.argv[1] == "transcribe":
        print(json.dumps(transcribe(sys.argv[3], sys.argv[4])))
    else:
        print(json.dumps(train(sys.argv[3], int(sys.argv[4]))))
