#!/bin/sh
# Issue 18's measurements on the transformer presets (docs/reproduction.md, section 7), at the
# sizes that fitted a shared 2-core machine (the sizes are variables: raise them where time
# allows; the issue's sizes are in the comments).
#   1. gpt-tiny trained on Debian's fortunes corpus (AdamW, warm-up + cosine) against the
#      unigram baseline on the same split;
#   2. the power law (Xie et al.; Tang et al., ICML 2025) on gpt-tiny trained and at
#      initialisation: the issue asks for the top 500 at 1,000 windows;
#   3. block heterogeneity JS0 (Zhang et al. 2024) at initialisation: vit-tiny, gpt-tiny,
#      LeNet-5 and an MLP 784-128-10 with one recipe, --group tensor (and qkv).
. "$(dirname "$0")/common.sh"
EPOCHS="${EPOCHS:-1}"    # gpt-tiny training: passes over the 36,234 training windows
PL_N="${PL_N:-64}"       # power law: windows (issue: 1000)
PL_K="${PL_K:-200}"      # power law: top K (issue: 500)
BL_N="${BL_N:-16}"       # blocks: samples (windows / images), the same for the four models
BL_PROBES="${BL_PROBES:-2}"
BL_STEPS="${BL_STEPS:-20}"
BL_WIDTH="${BL_WIDTH:-0.1}" # one Gaussian width in units of lambda_10 for every block
BL_EXTRA="${BL_EXTRA:---trace-samples 9 --tol 1e-4 --precision f32}"

# 1. gpt-tiny on text:fortunes (the whole corpus: 36,234 training windows of 64 bytes).
gpt="$out/gpt-tiny-trained.safetensors"
[ -f "$gpt" ] || "$hesse" train --arch gpt-tiny --data text:fortunes --epochs "$EPOCHS" --batch 64 \
    --optimizer adamw --lr 3e-3 --wd 0.01 --schedule warmup-cosine --warmup 50 --seed 1 \
    --json "$out/gpt-tiny-train.json" -o "$gpt"
fortunes="${HESSE_FORTUNES_DIR:-/usr/share/games/fortunes}"
/usr/bin/python3 "$here/examples/reproduce/unigram_baseline.py" "$fortunes" >"$out/unigram-fortunes.json"

# Models at initialisation (PyTorch's default init, seed 0).
init() { # init NAME ARCH [DATA]
    f="$out/$1-init.safetensors"
    [ -f "$f" ] || "$hesse" train -q --arch "$2" --data "${3:-fashion-mnist}" --epochs 0 \
        --samples 100 --no-test --seed 0 -o "$f"
}
init gpt-tiny gpt-tiny text:fortunes
init vit-tiny vit-tiny
init lenet5 lenet5
init mlp128 'mlp(784,128,10)'

# 2. Power law, f32 products (docs/performance.md: tol 1e-6 in single precision).
for m in gpt-tiny-trained gpt-tiny-init; do
    "$hesse" powerlaw --model "$out/$m.safetensors" --data text:fortunes --samples "$PL_N" \
        --top "$PL_K" --tol 1e-6 --precision f32 --svg "$out/powerlaw-$m.svg" \
        -o "$out/powerlaw-$m.json"
done

# 3. Block heterogeneity at initialisation, one recipe for all four models.
for m in gpt-tiny vit-tiny lenet5 mlp128; do
    data=fashion-mnist
    [ "$m" = gpt-tiny ] && data=text:fortunes
    groups=tensor
    case "$m" in *-tiny) groups="tensor qkv" ;; esac
    for g in $groups; do
        # shellcheck disable=SC2086 # BL_EXTRA is a list of options
        "$hesse" blocks --model "$out/$m-init.safetensors" --data "$data" --samples "$BL_N" \
            --group "$g" --probes "$BL_PROBES" --steps "$BL_STEPS" --width "$BL_WIDTH" $BL_EXTRA \
            --svg "$out/blocks-$m-$g" -o "$out/blocks-$m-$g.json"
    done
done

# Controls: the CNN and the MLP at N = 256, vit-tiny at N = 64 (same recipe otherwise).
for c in lenet5:256 mlp128:256 vit-tiny:64; do
    m=${c%%:*} n=${c##*:}
    # shellcheck disable=SC2086
    "$hesse" blocks --model "$out/$m-init.safetensors" --samples "$n" --group tensor \
        --probes "$BL_PROBES" --steps "$BL_STEPS" --width "$BL_WIDTH" $BL_EXTRA \
        --svg "$out/blocks-$m-tensor-n$n" -o "$out/blocks-$m-tensor-n$n.json"
done
# Other widths without new products, e.g.
#   tools/blocks_resmooth.py "$out/blocks-gpt-tiny-tensor.json" abs 0.02
