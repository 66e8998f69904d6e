"""The CUDA paths: run where a GPU exists (the H200 check of issue 9), skipped with a reason elsewhere."""

import pytest
import torch
import torch.nn.functional as F

from transformer import BOS, MultiHeadedAttention, data_gen, greedy_decode, make_model, padding_mask

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture()
def pair():
    torch.manual_seed(0)
    cpu = make_model(11, 11, N=2, d_model=64, d_ff=128, h=4, dropout=0.0).eval()
    gpu = make_model(11, 11, N=2, d_model=64, d_ff=128, h=4, dropout=0.0).eval().cuda()
    gpu.load_state_dict(cpu.state_dict())
    return cpu, gpu


def test_forward_on_cuda_equals_cpu(pair):
    cpu, gpu = pair
    batch = next(data_gen(11, 16, 1, generator=torch.Generator().manual_seed(0)))
    with torch.no_grad():
        expected = cpu(batch.src, batch.tgt, batch.src_mask, batch.tgt_mask)
        got = gpu(batch.src.cuda(), batch.tgt.cuda(), batch.src_mask.cuda(), batch.tgt_mask.cuda())
    torch.testing.assert_close(got.cpu(), expected, atol=1e-4, rtol=1e-4)  # TF32 and other kernels


def test_greedy_decode_on_cuda_equals_cpu(pair):
    cpu, gpu = pair
    src = torch.randint(3, 11, (8, 9), generator=torch.Generator().manual_seed(1))
    expected = greedy_decode(cpu, src, padding_mask(src, 0), 12, BOS)
    got = greedy_decode(gpu, src.cuda(), padding_mask(src, 0).cuda(), 12, BOS)
    assert got.device.type == "cuda" and torch.equal(got.cpu(), expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_fully_masked_rows_are_zero_in_every_dtype(dtype):
    torch.manual_seed(0)
    mha = MultiHeadedAttention(h=4, d_model=64, dropout=0.0).cuda().to(dtype)
    x = torch.randn(4, 8, 64, device="cuda", dtype=dtype)
    mask = torch.ones(4, 8, 8, dtype=torch.bool, device="cuda").tril()
    mask[:, 3] = False  # query 3 may attend to nothing
    out = mha(x, x, x, mask)
    torch.testing.assert_close(out[:, 3], mha.out_proj.bias.expand(4, 64))
    raw = F.scaled_dot_product_attention(
        x.view(4, 8, 4, 16).transpose(1, 2),
        x.view(4, 8, 4, 16).transpose(1, 2),
        x.view(4, 8, 4, 16).transpose(1, 2),
        attn_mask=mask.unsqueeze(1),
    )
    print(f"{dtype}: the bare SDPA kernel gives max |out| {raw[:, :, 3].abs().max().item():.3g} on the masked row")


def test_the_embedding_forward_does_not_wait_for_the_gpu(pair):
    _, gpu = pair
    src = torch.randint(3, 11, (4, 9), device="cuda")
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        gpu.src_embed(src)
    finally:
        torch.cuda.set_sync_debug_mode("default")
