package dev.kiln.pipeline.eval;

/**
 * The Fréchet distance between Gaussians fitted to two feature sets, as FID computes it:
 * {@code |μ1 − μ2|² + tr(Σ1) + tr(Σ2) − 2·tr((Σ1·Σ2)^½)}.
 *
 * <p>{@code Σ1·Σ2} is not symmetric, so its square root is not taken directly (FID's {@code sqrtm} of
 * the product is where implementations go wrong on near-singular covariances). Instead
 * {@code tr((Σ1Σ2)^½) = tr((√Σ1·Σ2·√Σ1)^½)} — the two matrices are similar — and the right-hand one is
 * symmetric positive semi-definite, so both roots come from {@link SymmetricEigen}.
 */
public final class FrechetDistance {
    private FrechetDistance() {
    }

    /** Between feature sets given as rows (samples × dimensions). */
    public static double between(float[][] a, float[][] b) {
        if (a.length < 2 || b.length < 2) {
            throw new IllegalArgumentException("each feature set needs at least 2 samples, has " + a.length + " and " + b.length);
        }
        return between(mean(a), covariance(a), mean(b), covariance(b));
    }

    /** Between two Gaussians. */
    public static double between(double[] mu1, double[][] sigma1, double[] mu2, double[][] sigma2) {
        int n = mu1.length;
        double diff = 0;
        for (int i = 0; i < n; i++) {
            double d = mu1[i] - mu2[i];
            diff += d * d;
        }
        double[][] root1 = SymmetricEigen.of(sigma1).sqrtMatrix();
        double[][] m = multiply(multiply(root1, sigma2), root1);
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                double s = 0.5 * (m[i][j] + m[j][i]); // symmetric in exact arithmetic; remove rounding asymmetry
                m[i][j] = s;
                m[j][i] = s;
            }
        }
        double traceRoot = 0;
        for (double lambda : SymmetricEigen.of(m).values()) {
            traceRoot += Math.sqrt(Math.max(0, lambda));
        }
        double trace = 0;
        for (int i = 0; i < n; i++) {
            trace += sigma1[i][i] + sigma2[i][i];
        }
        return diff + trace - 2 * traceRoot;
    }

    static double[] mean(float[][] x) {
        int d = x[0].length;
        double[] mu = new double[d];
        for (float[] row : x) {
            for (int j = 0; j < d; j++) {
                mu[j] += row[j];
            }
        }
        for (int j = 0; j < d; j++) {
            mu[j] /= x.length;
        }
        return mu;
    }

    /** The unbiased sample covariance (divided by n − 1), as numpy's {@code cov} and FID use. */
    static double[][] covariance(float[][] x) {
        int d = x[0].length;
        double[] mu = mean(x);
        double[][] c = new double[d][d];
        double[] centred = new double[d];
        for (float[] row : x) {
            for (int j = 0; j < d; j++) {
                centred[j] = row[j] - mu[j];
            }
            for (int i = 0; i < d; i++) {
                double ci = centred[i];
                double[] ri = c[i];
                for (int j = i; j < d; j++) {
                    ri[j] += ci * centred[j];
                }
            }
        }
        for (int i = 0; i < d; i++) {
            for (int j = i; j < d; j++) {
                c[i][j] /= x.length - 1;
                c[j][i] = c[i][j];
            }
        }
        return c;
    }

    private static double[][] multiply(double[][] a, double[][] b) {
        int n = a.length;
        int k = b.length;
        int m = b[0].length;
        double[][] out = new double[n][m];
        for (int i = 0; i < n; i++) {
            double[] oi = out[i];
            for (int p = 0; p < k; p++) {
                double aip = a[i][p];
                if (aip == 0) {
                    continue;
                }
                double[] bp = b[p];
                for (int j = 0; j < m; j++) {
                    oi[j] += aip * bp[j];
                }
            }
        }
        return out;
    }
}
