namespace KernelLab.Backends.Reference;

// The LSTM and GRU cells, LayerNorm, causal self-attention and the softmax cross-entropy loss.
public partial class ReferenceBackend
{
    // Gate blocks of an LSTM row [4*hidden], in PyTorch's order.
    private const int GateI = 0, GateF = 1, GateG = 2, GateO = 3;

    protected override void LstmCellForwardCore(DeviceView preact, DeviceView cPrev, DeviceView gates, DeviceView c, DeviceView h, int batch, int hidden)
    {
        Span<double> sp = Span(preact), sg = Span(gates); // [batch, 4*hidden]
        Span<double> scp = Span(cPrev), sc = Span(c), sh = Span(h); // [batch, hidden]
        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < hidden; j++)
            {
                int gi = GateIndex(b, GateI, j, hidden), gf = GateIndex(b, GateF, j, hidden);
                int gg = GateIndex(b, GateG, j, hidden), go = GateIndex(b, GateO, j, hidden);
                double i = sg[gi] = Activate(Activation.Sigmoid, sp[gi]);
                double f = sg[gf] = Activate(Activation.Sigmoid, sp[gf]);
                double g = sg[gg] = Activate(Activation.Tanh, sp[gg]);
                double o = sg[go] = Activate(Activation.Sigmoid, sp[go]);
                int bj = b * hidden + j;
                sc[bj] = f * scp[bj] + i * g;
                sh[bj] = o * Math.Tanh(sc[bj]);
            }
        }
    }

    protected override void LstmCellBackwardCore(DeviceView gates, DeviceView cPrev, DeviceView c, DeviceView dh, DeviceView dc, DeviceView dPreact, DeviceView dcPrev, int batch, int hidden)
    {
        Span<double> sg = Span(gates), sdp = Span(dPreact); // [batch, 4*hidden]
        Span<double> scp = Span(cPrev), sc = Span(c), sdh = Span(dh), sdc = Span(dc), sdcp = Span(dcPrev); // [batch, hidden]
        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < hidden; j++)
            {
                int gi = GateIndex(b, GateI, j, hidden), gf = GateIndex(b, GateF, j, hidden);
                int gg = GateIndex(b, GateG, j, hidden), go = GateIndex(b, GateO, j, hidden);
                double i = sg[gi], f = sg[gf], g = sg[gg], o = sg[go];
                int bj = b * hidden + j;
                double tanhC = Math.Tanh(sc[bj]);
                // c reaches the loss through the next step (dc) and through h = o * tanh(c). Read dc before
                // writing dcPrev: they may be the same buffer.
                double dcTotal = sdc[bj] + sdh[bj] * o * TanhDerivative(tanhC);
                sdcp[bj] = dcTotal * f;
                // The gates hold the activated values, so each derivative is taken from its output.
                sdp[gi] = dcTotal * g * SigmoidDerivative(i);
                sdp[gf] = dcTotal * scp[bj] * SigmoidDerivative(f);
                sdp[gg] = dcTotal * i * TanhDerivative(g);
                sdp[go] = sdh[bj] * tanhC * SigmoidDerivative(o);
            }
        }
    }

    private static int GateIndex(int b, int gate, int j, int hidden) => (b * 4 + gate) * hidden + j;

    // Gate blocks of a GRU row [3*hidden], in PyTorch's order.
    private const int GateR = 0, GateZ = 1, GateN = 2;

    private static int GruIndex(int b, int gate, int j, int hidden) => (b * 3 + gate) * hidden + j;

    protected override void GruCellForwardCore(DeviceView gi, DeviceView gh, DeviceView hPrev, DeviceView gates, DeviceView h, int batch, int hidden)
    {
        Span<double> si = Span(gi), sgh = Span(gh), sg = Span(gates); // [batch, 3*hidden]
        Span<double> shp = Span(hPrev), sh = Span(h); // [batch, hidden]
        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < hidden; j++)
            {
                int ir = GruIndex(b, GateR, j, hidden), iz = GruIndex(b, GateZ, j, hidden), iN = GruIndex(b, GateN, j, hidden);
                double r = sg[ir] = Activate(Activation.Sigmoid, si[ir] + sgh[ir]);
                double z = sg[iz] = Activate(Activation.Sigmoid, si[iz] + sgh[iz]);
                double n = sg[iN] = Math.Tanh(si[iN] + r * sgh[iN]);
                int bj = b * hidden + j;
                sh[bj] = (1 - z) * n + z * shp[bj];
            }
        }
    }

    protected override void GruCellBackwardCore(DeviceView gates, DeviceView gh, DeviceView hPrev, DeviceView dh, DeviceView dGi, DeviceView dGh, DeviceView dhPrev, int batch, int hidden)
    {
        Span<double> sg = Span(gates), sgh = Span(gh), sdi = Span(dGi), sdgh = Span(dGh); // [batch, 3*hidden]
        Span<double> shp = Span(hPrev), sdh = Span(dh), sdhp = Span(dhPrev); // [batch, hidden]
        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < hidden; j++)
            {
                int ir = GruIndex(b, GateR, j, hidden), iz = GruIndex(b, GateZ, j, hidden), iN = GruIndex(b, GateN, j, hidden);
                double r = sg[ir], z = sg[iz], n = sg[iN];
                int bj = b * hidden + j;
                double d = sdh[bj];
                // h = (1 - z) n + z hPrev; n = tanh(gi_n + r gh_n); r and z are sigmoids of gi + gh.
                double dnPre = d * (1 - z) * TanhDerivative(n);
                double dzPre = d * (shp[bj] - n) * SigmoidDerivative(z);
                double drPre = dnPre * sgh[iN] * SigmoidDerivative(r);
                sdi[ir] = sdgh[ir] = drPre;
                sdi[iz] = sdgh[iz] = dzPre;
                sdi[iN] = dnPre;
                sdgh[iN] = dnPre * r;
                sdhp[bj] += d * z;
            }
        }
    }

    protected override void LayerNormForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView y, DeviceView mean, DeviceView rstd, int rows, int cols, double eps)
    {
        Span<double> sx = Span(x), sy = Span(y); // [rows, cols]
        Span<double> sw = Span(weight), sb = Span(bias); // [cols]
        Span<double> smean = Span(mean), srstd = Span(rstd); // [rows]
        for (int r = 0; r < rows; r++)
        {
            var row = sx.Slice(r * cols, cols);
            double sum = 0;
            foreach (double v in row)
                sum += v;
            double mu = sum / cols;
            double squares = 0;
            foreach (double v in row)
                squares += (v - mu) * (v - mu);
            // The biased variance (divide by cols), as nn.LayerNorm.
            double rs = 1 / Math.Sqrt(squares / cols + eps);
            for (int j = 0; j < cols; j++)
                sy[r * cols + j] = (row[j] - mu) * rs * sw[j] + sb[j];
            smean[r] = mu;
            srstd[r] = rs;
        }
    }

    protected override void LayerNormBackwardCore(DeviceView dy, DeviceView x, DeviceView weight, DeviceView mean, DeviceView rstd, DeviceView dx, DeviceView dWeight, DeviceView dBias, int rows, int cols)
    {
        Span<double> sdy = Span(dy), sx = Span(x), sdx = Span(dx); // [rows, cols]
        Span<double> sw = Span(weight), sdw = Span(dWeight), sdb = Span(dBias); // [cols]
        Span<double> smean = Span(mean), srstd = Span(rstd); // [rows]
        sdw[..cols].Clear();
        sdb[..cols].Clear();
        for (int r = 0; r < rows; r++)
        {
            // xhat = (x - mean) * rstd and dxhat = dy * weight; the mean and rstd depend on every x of the row,
            // which gives dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
            double sumDxhat = 0, sumDxhatXhat = 0;
            for (int j = 0; j < cols; j++)
            {
                int at = r * cols + j;
                double xhat = (sx[at] - smean[r]) * srstd[r];
                double dxhat = sdy[at] * sw[j];
                sumDxhat += dxhat;
                sumDxhatXhat += dxhat * xhat;
                sdw[j] += sdy[at] * xhat;
                sdb[j] += sdy[at];
            }
            double meanDxhat = sumDxhat / cols, meanDxhatXhat = sumDxhatXhat / cols;
            for (int j = 0; j < cols; j++)
            {
                int at = r * cols + j;
                double xhat = (sx[at] - smean[r]) * srstd[r];
                sdx[at] = srstd[r] * (sdy[at] * sw[j] - meanDxhat - xhat * meanDxhatXhat);
            }
        }
    }

    protected override void AttentionForwardCore(DeviceView qkv, DeviceView y, DeviceView probabilities, AttentionShape s)
    {
        Span<double> sqkv = Span(qkv), sy = Span(y), sp = Span(probabilities); // [B, T, 3C], [B, T, C], [B, heads, T, T]
        var at = new AttentionLayout(s);
        double scale = 1 / Math.Sqrt(s.HeadSize);
        for (int b = 0; b < s.Batch; b++)
        for (int h = 0; h < s.Heads; h++)
        for (int t = 0; t < s.T; t++)
        {
            var p = sp.Slice(at.Probabilities(b, h, t), s.T);
            // Causal: query t sees keys 0..t; the later ones get probability exactly 0.
            for (int u = 0; u <= t; u++)
                p[u] = scale * Dot(sqkv.Slice(at.Q(b, t, h), s.HeadSize), sqkv.Slice(at.K(b, u, h), s.HeadSize));
            Softmax(p[..(t + 1)]);
            p[(t + 1)..].Clear();

            var yh = sy.Slice(at.Y(b, t, h), s.HeadSize);
            yh.Clear();
            for (int u = 0; u <= t; u++)
            {
                var v = sqkv.Slice(at.V(b, u, h), s.HeadSize);
                for (int d = 0; d < s.HeadSize; d++)
                    yh[d] += p[u] * v[d];
            }
        }
    }

    protected override void AttentionBackwardCore(DeviceView dy, DeviceView qkv, DeviceView probabilities, DeviceView dQkv, AttentionShape s)
    {
        Span<double> sdy = Span(dy), sqkv = Span(qkv), sp = Span(probabilities), sdqkv = Span(dQkv); // [B, T, C], [B, T, 3C], [B, heads, T, T], [B, T, 3C]
        var at = new AttentionLayout(s);
        double scale = 1 / Math.Sqrt(s.HeadSize);
        // Every key and value collects gradient from several queries, so dQkv is cleared and accumulated into.
        sdqkv[..(int)s.QkvLength].Clear();
        var dp = new double[s.T]; // gradient of one query's probabilities
        for (int b = 0; b < s.Batch; b++)
        for (int h = 0; h < s.Heads; h++)
        for (int t = 0; t < s.T; t++)
        {
            var p = sp.Slice(at.Probabilities(b, h, t), s.T);
            var dyh = sdy.Slice(at.Y(b, t, h), s.HeadSize);

            // y = sum over u of p[u] v[u]: gradients of p and of v. Masked keys (u > t) have p = 0 and take no gradient.
            double pDotDp = 0;
            for (int u = 0; u <= t; u++)
            {
                dp[u] = Dot(dyh, sqkv.Slice(at.V(b, u, h), s.HeadSize));
                pDotDp += p[u] * dp[u];
                var dv = sdqkv.Slice(at.V(b, u, h), s.HeadSize);
                for (int d = 0; d < s.HeadSize; d++)
                    dv[d] += p[u] * dyh[d];
            }

            // Through the softmax, dscore[u] = p[u] (dp[u] - sum p dp); then score = scale q.k.
            var q = sqkv.Slice(at.Q(b, t, h), s.HeadSize);
            var dq = sdqkv.Slice(at.Q(b, t, h), s.HeadSize);
            for (int u = 0; u <= t; u++)
            {
                double dScore = p[u] * (dp[u] - pDotDp) * scale;
                var k = sqkv.Slice(at.K(b, u, h), s.HeadSize);
                var dk = sdqkv.Slice(at.K(b, u, h), s.HeadSize);
                for (int d = 0; d < s.HeadSize; d++)
                {
                    dq[d] += dScore * k[d];
                    dk[d] += dScore * q[d];
                }
            }
        }
    }

    /// <summary>Where head h of position t starts in qkv [B, T, 3C] (q, k, v thirds) and y [B, T, C], and where a query's row of probabilities [B, heads, T, T] starts.</summary>
    private readonly record struct AttentionLayout(AttentionShape S)
    {
        public int Q(int b, int t, int h) => Qkv(b, t, 0, h);

        public int K(int b, int t, int h) => Qkv(b, t, 1, h);

        public int V(int b, int t, int h) => Qkv(b, t, 2, h);

        public int Y(int b, int t, int h) => (b * S.T + t) * S.Channels + h * S.HeadSize;

        public int Probabilities(int b, int h, int t) => ((b * S.Heads + h) * S.T + t) * S.T;

        private int Qkv(int b, int t, int third, int h) => (b * S.T + t) * 3 * S.Channels + third * S.Channels + h * S.HeadSize;
    }

    protected override void SoftmaxCrossEntropyCore(DeviceView logits, DeviceIndexBuffer targets, DeviceView loss, DeviceView dLogits, int rows, int classes)
    {
        Span<double> sl = Span(logits), sd = Span(dLogits), sloss = Span(loss); // [rows, classes], [rows, classes], [1]
        Span<int> st = Indices(targets); // [rows]
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            var d = sd.Slice(r * classes, classes);
            sl.Slice(r * classes, classes).CopyTo(d);
            // -log p[target] = logsumexp(logits) - logits[target], which stays finite where p[target] underflows to 0.
            double logSumExp = Softmax(d);
            total += logSumExp - sl[r * classes + st[r]];
            d[st[r]] -= 1;
            for (int j = 0; j < classes; j++)
                d[j] /= rows;
        }
        sloss[0] = total / rows;
    }

    /// <summary>Softmax in place; returns log(sum(exp(row))) of the input. The row maximum is subtracted first so that exp cannot overflow.</summary>
    private static double Softmax(Span<double> row)
    {
        double max = double.NegativeInfinity;
        foreach (double v in row)
            max = Math.Max(max, v);
        double sum = 0;
        for (int i = 0; i < row.Length; i++)
        {
            row[i] = Math.Exp(row[i] - max);
            sum += row[i];
        }
        for (int i = 0; i < row.Length; i++)
            row[i] /= sum;
        return max + Math.Log(sum);
    }

    private static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
            sum += a[i] * b[i];
        return sum;
    }
}
