"""Exact rewrites of the PP-OCRv4 text detector (a paddle2onnx export) that ONNX Runtime does not
make itself, so it runs ~1.25x faster with the same output (checked by models/fetch-models.sh):

   Conv -> Mul(a) -> Add(b)   (PP-LCNetV3's learnable affine)  =>  Conv with a*W, a*B+b
   x -> Add(3) -> Clip(0,6) -> Mul(x, .) -> Div(6)             =>  HardSwish(x)   (opset 14)
   Mul(a) -> Add(b) -> 1x1 Conv without padding                =>  Conv with a*W, B + b*sum(W)

The elementwise chains were ~40% of the detector's time (ONNX Runtime profile, 1280x960, 1 thread).
Usage: fuse_ppocr_det.py ORIGINAL.onnx OUT.onnx"""
import sys, onnx, numpy as np
from onnx import numpy_helper, helper, version_converter
src, dst = sys.argv[1], sys.argv[2]
m = version_converter.convert_version(onnx.load(src), 14)
g = m.graph
# Constant nodes -> initializers, so they can be read and rewritten.
inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
keep = []
for n in g.node:
    if n.op_type == 'Constant' and n.attribute[0].name == 'value':
        inits[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    else:
        keep.append(n)
nodes = keep
def consumers(name):
    return [n for n in nodes if name in n.input]
def producer(name):
    for n in nodes:
        if name in n.output: return n
def scalar(name):
    a = inits.get(name)
    return None if a is None or a.size != 1 else float(a.ravel()[0])
def other(n, name):
    return n.input[1] if n.input[0] == name else n.input[0]
graph_outputs = {o.name for o in g.output}
def only_consumer(name):
    c = consumers(name)
    return c[0] if len(c) == 1 and name not in graph_outputs else None
# Removed nodes are kept alive in `dead`: a freed node's id() could be reused by a new node.
removed, dead = set(), []
def drop(*ns):
    for n in ns: removed.add(id(n)); dead.append(n)
# 1. Conv -> Mul(a) -> Add(b)
folded = 0
for conv in list(nodes):
    if conv.op_type != 'Conv': continue
    mul = only_consumer(conv.output[0])
    if mul is None or mul.op_type != 'Mul': continue
    a = scalar(other(mul, conv.output[0]))
    if a is None: continue
    W = inits[conv.input[1]]; B = inits[conv.input[2]] if len(conv.input) > 2 else np.zeros(W.shape[0], np.float32)
    add = only_consumer(mul.output[0]); b = None
    if add is not None and add.op_type == 'Add':
        b = scalar(other(add, mul.output[0]))
    W2 = (W * a).astype(np.float32); B2 = (B * a + (b or 0.0)).astype(np.float32)
    last = add if b is not None else mul
    wn, bn = conv.input[1] + '_f', conv.name + '_bias_f'
    inits[wn] = W2; inits[bn] = B2
    conv.input[:] = [conv.input[0], wn, bn]
    conv.output[0] = last.output[0]
    drop(mul)
    if b is not None: drop(add)
    nodes = [n for n in nodes if id(n) not in removed]
    folded += 1
# 2. hardswish
hs = 0
for add in list(nodes):
    if add.op_type != 'Add' or scalar(add.input[1]) != 3.0: continue
    x = add.input[0]
    clip = only_consumer(add.output[0])
    if clip is None or clip.op_type != 'Clip' or scalar(clip.input[1]) != 0.0 or scalar(clip.input[2]) != 6.0: continue
    mul = only_consumer(clip.output[0])
    if mul is None or mul.op_type != 'Mul' or other(mul, clip.output[0]) != x: continue
    div = only_consumer(mul.output[0])
    if div is None or div.op_type != 'Div' or scalar(div.input[1]) != 6.0: continue
    h = helper.make_node('HardSwish', [x], [div.output[0]], name=div.output[0] + '_hs')
    i = nodes.index(add)
    drop(add, clip, mul, div)
    nodes = [n for n in nodes if id(n) not in removed]
    nodes.insert(i, h); hs += 1
# 3. Mul(a) -> Add(b) -> 1x1 Conv (no padding): fold into that conv
pre = 0
for mul in list(nodes):
    if mul.op_type != 'Mul': continue
    a = None; x = None
    for k in (0, 1):
        if scalar(mul.input[k]) is not None: a = scalar(mul.input[k]); x = mul.input[1 - k]
    if a is None: continue
    add = only_consumer(mul.output[0])
    if add is None or add.op_type != 'Add': continue
    b = scalar(other(add, mul.output[0]))
    if b is None: continue
    conv = only_consumer(add.output[0])
    if conv is None or conv.op_type != 'Conv': continue
    W = inits[conv.input[1]]
    if W.shape[2:] != (1, 1): continue
    attrs = {at.name: helper.get_attribute_value(at) for at in conv.attribute}
    if any(attrs.get('pads', [0]) ) or attrs.get('group', 1) != 1: continue
    B = inits[conv.input[2]] if len(conv.input) > 2 else np.zeros(W.shape[0], np.float32)
    W2 = (W * a).astype(np.float32); B2 = (B + b * W.sum(axis=(1, 2, 3))).astype(np.float32)
    wn, bn = conv.input[1] + '_p', conv.name + '_bias_p'
    inits[wn] = W2; inits[bn] = B2
    conv.input[:] = [x, wn, bn]
    drop(mul, add)
    nodes = [n for n in nodes if id(n) not in removed]
    pre += 1
# 4. HardSwish(y), y from a Conv => Mul(y, HardSigmoid(DWConv1x1(y))). ONNX Runtime runs HardSwish
#    as HardSigmoid + Mul outside its blocked (NCHWc) layout, converting the tensor out and back in
#    around it; a 1x1 depthwise conv with the HardSigmoid fused into it, and a same-shape Mul, stay
#    in the blocked layout. A learnable affine after it (Mul(a), Add(b), a conv with padding next)
#    goes with it: a into the producing conv, b as the bias of one more 1x1 depthwise conv.
blocked = 0
def dwconv(x, out, c, w, b, name):
    wn, bn = name + '_w', name + '_b'
    inits[wn] = np.full((c, 1, 1, 1), w, np.float32); inits[bn] = np.full(c, b, np.float32)
    return helper.make_node('Conv', [x, wn, bn], [out], name=name, group=c, kernel_shape=[1, 1])
for hsn in list(nodes):
    if hsn.op_type != 'HardSwish': continue
    conv = producer(hsn.input[0])
    if conv is None or conv.op_type != 'Conv' or only_consumer(hsn.input[0]) is not hsn: continue
    c = inits[conv.input[1]].shape[0]
    a, b, last = 1.0, None, hsn
    mul = only_consumer(hsn.output[0])
    if mul is not None and mul.op_type == 'Mul' and scalar(other(mul, hsn.output[0])) not in (None, 0.0):
        add = only_consumer(mul.output[0])
        if add is not None and add.op_type == 'Add' and scalar(other(add, mul.output[0])) is not None:
            a, b, last = scalar(other(mul, hsn.output[0])), scalar(other(add, mul.output[0])), add
            W = inits[conv.input[1]]
            B = inits[conv.input[2]] if len(conv.input) > 2 else np.zeros(c, np.float32)
            inits[conv.input[1] + '_a'] = (W * a).astype(np.float32)
            inits[conv.name + '_bias_a'] = (B * a).astype(np.float32)
            conv.input[:] = [conv.input[0], conv.input[1] + '_a', conv.name + '_bias_a']
            drop(mul, add)
    y, base, end = hsn.input[0], hsn.output[0], last.output[0]
    new = [dwconv(y, base + '_id', c, 1.0, 0.0, base + '_id'),
           helper.make_node('HardSigmoid', [base + '_id'], [base + '_gate'], name=base + '_gate',
                            alpha=1.0 / (6.0 * a), beta=0.5),
           helper.make_node('Mul', [y, base + '_gate'], [base + '_m' if b is not None else end],
                            name=base + '_m')]
    if b is not None:
        new.append(dwconv(base + '_m', end, c, 1.0, b, base + '_bias'))
    i = nodes.index(hsn); drop(hsn)
    nodes = [n for n in nodes if id(n) not in removed]
    nodes[i:i] = new
    blocked += 1
# 5. Squeeze-and-excitation with a residual, x + x*s (s per channel, [1,C,1,1]) => x*(s+1): one
#    pass over x instead of two (ONNX Runtime runs the broadcast Mul outside the blocked layout).
se = 0
for add in list(nodes):
    if add.op_type != 'Add': continue
    for k in (0, 1):
        mul = producer(add.input[k])
        if mul is None or mul.op_type != 'Mul' or only_consumer(mul.output[0]) is not add: continue
        x = add.input[1 - k]
        if x not in mul.input: continue
        s = other(mul, x)
        gate = producer(s)
        if gate is None or gate.op_type != 'HardSigmoid': continue
        one = add.output[0] + '_one'
        inits[one] = np.ones(1, np.float32)
        plus = helper.make_node('Add', [s, one], [s + '_plus1'], name=s + '_plus1')
        scale = helper.make_node('Mul', [x, s + '_plus1'], [add.output[0]], name=add.output[0] + '_se')
        i = nodes.index(mul); drop(mul, add)
        nodes = [n for n in nodes if id(n) not in removed]
        nodes[i:i] = [plus, scale]
        se += 1
        break
# 6. ConvTranspose -> Add(per-channel bias) [-> BatchNormalization] (the head's upsampling; paddle2onnx
#    writes the bias as an Add) => ConvTranspose with the bias and the batch norm in its weights.
up = 0
for ct in list(nodes):
    if ct.op_type != 'ConvTranspose' or len(ct.input) != 2: continue
    attrs = {at.name: helper.get_attribute_value(at) for at in ct.attribute}
    add = only_consumer(ct.output[0])
    if attrs.get('group', 1) != 1 or add is None or add.op_type != 'Add': continue
    W = inits[ct.input[1]]; c = W.shape[1]
    b = inits.get(other(add, ct.output[0]))
    if b is None or b.size != c: continue
    k, b, last = np.ones(c, np.float32), b.reshape(c).astype(np.float32), add
    bn = only_consumer(add.output[0])
    if bn is not None and bn.op_type == 'BatchNormalization' and all(i in inits for i in bn.input[1:]):
        eps = {at.name: helper.get_attribute_value(at) for at in bn.attribute}.get('epsilon', 1e-5)
        scale, shift, mean, var = (inits[i].astype(np.float64) for i in bn.input[1:5])
        k = scale / np.sqrt(var + eps)
        b = ((b - mean) * k + shift).astype(np.float32); k = k.astype(np.float32)
        last = bn
    wn, bn_name = ct.input[1] + '_u', ct.name + '_bias_u'
    inits[wn] = (W * k[None, :, None, None]).astype(np.float32); inits[bn_name] = b
    ct.input[:] = [ct.input[0], wn, bn_name]
    ct.output[0] = last.output[0]
    drop(add, *([last] if last is not add else []))
    nodes = [n for n in nodes if id(n) not in removed]
    up += 1
# 7. The head's tail, ConvTranspose(2x2, stride 2) -> Relu -> ConvTranspose(2x2, stride 2, one map)
#    -> Sigmoid => 1x1 Conv (4 outputs per channel) + Relu -> 1x1 Conv + Sigmoid -> DepthToSpace(4).
#    A 2x2 stride-2 transposed conv writes each input pixel's own 2x2 block, which is a 1x1 conv
#    to 4x the channels; the second one is then block-diagonal over those 4 positions, and one
#    DepthToSpace at the end places the 4x4 blocks. ONNX Runtime's ConvTranspose is several times
#    slower than its 1x1 convs in the blocked layout.
tail = 0
def tconv2(n):
    if n is None or n.op_type != 'ConvTranspose' or len(n.input) != 3: return False
    at = {a.name: helper.get_attribute_value(a) for a in n.attribute}
    return (at.get('kernel_shape') == [2, 2] and at.get('strides') == [2, 2] and at.get('group', 1) == 1
            and not any(at.get('pads', [0])) and not any(at.get('output_padding', [0]))
            and at.get('dilations', [1, 1]) == [1, 1])
for t1 in list(nodes):
    if not tconv2(t1): continue
    relu = only_consumer(t1.output[0])
    if relu is None or relu.op_type != 'Relu': continue
    t2 = only_consumer(relu.output[0])
    if not tconv2(t2) or inits[t2.input[1]].shape[1] != 1: continue
    sig = only_consumer(t2.output[0])
    if sig is None or sig.op_type != 'Sigmoid': continue
    A, a = inits[t1.input[1]], inits[t1.input[2]]   # A[ci, co, kh, kw]
    B, b = inits[t2.input[1]], inits[t2.input[2]]   # B[co, 0, kh2, kw2]
    ci, co = A.shape[:2]
    W1 = A.transpose(1, 2, 3, 0).reshape(co * 4, ci, 1, 1)   # out channel co*4 + kh*2 + kw
    b1 = np.repeat(a, 4)
    W2 = np.zeros((16, co * 4, 1, 1), np.float32)            # out channel (2kh+kh2)*4 + 2kw+kw2
    for kh in (0, 1):
        for kw in (0, 1):
            for kh2 in (0, 1):
                for kw2 in (0, 1):
                    W2[(2 * kh + kh2) * 4 + 2 * kw + kw2, kh * 2 + kw::4, 0, 0] = B[:, 0, kh2, kw2]
    b2 = np.full(16, b.ravel()[0], np.float32)
    base = t1.name + '_tail'
    for k, v in ((base + '_w1', W1), (base + '_b1', b1), (base + '_w2', W2), (base + '_b2', b2)):
        inits[k] = v.astype(np.float32)
    new = [helper.make_node('Conv', [t1.input[0], base + '_w1', base + '_b1'], [base + '_1'], name=base + '_1', kernel_shape=[1, 1]),
           helper.make_node('Relu', [base + '_1'], [base + '_r'], name=base + '_r'),
           helper.make_node('Conv', [base + '_r', base + '_w2', base + '_b2'], [base + '_2'], name=base + '_2', kernel_shape=[1, 1]),
           helper.make_node('Sigmoid', [base + '_2'], [base + '_s'], name=base + '_s'),
           helper.make_node('DepthToSpace', [base + '_s'], [sig.output[0]], name=base + '_d2s', blocksize=4, mode='CRD')]
    i = nodes.index(t1); drop(t1, relu, t2, sig)
    nodes = [n for n in nodes if id(n) not in removed]
    nodes[i:i] = new
    tail += 1
used = {i for n in nodes for i in n.input}
del g.node[:]; g.node.extend(nodes)
del g.initializer[:]
g.initializer.extend(numpy_helper.from_array(v, k) for k, v in inits.items() if k in used)
onnx.checker.check_model(m)
onnx.save(m, dst)
print(f"folded {folded} affine into convs, {hs} hardswish ({blocked} in blocked layout), {se} squeeze-excitation residuals as one Mul, {up} upsampling biases and batch norms, {tail} head tail as 1x1 convs, {pre} pre-affine into 1x1 convs; {len(nodes)} nodes")
