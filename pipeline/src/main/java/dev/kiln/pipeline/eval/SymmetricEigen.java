package dev.kiln.pipeline.eval;

/**
 * Eigenvalues and eigenvectors of a real symmetric matrix by cyclic Jacobi rotations.
 *
 * <p>Jacobi is slower than tridiagonalisation + QL, but it is short, needs no pivoting, and keeps the
 * eigenvectors orthogonal to working precision even for the nearly singular covariance matrices that
 * a few hundred 384-dimensional features give; at n = 384 it takes about a second.
 *
 * @param values  eigenvalues (unsorted)
 * @param vectors column j of this n×n matrix is the eigenvector of {@code values[j]}
 */
public record SymmetricEigen(double[] values, double[][] vectors) {
    private static final int MAX_SWEEPS = 100;

    /** Decomposes {@code m} (read only; only its upper triangle is used). */
    public static SymmetricEigen of(double[][] m) {
        int n = m.length;
        double[][] a = new double[n][];
        for (int i = 0; i < n; i++) {
            if (m[i].length != n) {
                throw new IllegalArgumentException("matrix must be square, row " + i + " has " + m[i].length + " of " + n);
            }
            a[i] = m[i].clone();
        }
        double[][] v = new double[n][n];
        double[] d = new double[n];
        double[] b = new double[n];
        double[] z = new double[n];
        for (int i = 0; i < n; i++) {
            v[i][i] = 1;
            d[i] = a[i][i];
            b[i] = d[i];
        }
        for (int sweep = 0; sweep < MAX_SWEEPS; sweep++) {
            double off = 0;
            for (int p = 0; p < n - 1; p++) {
                for (int q = p + 1; q < n; q++) {
                    off += Math.abs(a[p][q]);
                }
            }
            if (off == 0) {
                return new SymmetricEigen(d, v);
            }
            // early sweeps rotate only the large elements, which converges in fewer rotations
            double threshold = sweep < 3 ? 0.2 * off / ((double) n * n) : 0;
            for (int p = 0; p < n - 1; p++) {
                for (int q = p + 1; q < n; q++) {
                    double g = 100 * Math.abs(a[p][q]);
                    if (sweep > 3 && Math.abs(d[p]) + g == Math.abs(d[p]) && Math.abs(d[q]) + g == Math.abs(d[q])) {
                        a[p][q] = 0; // below the precision of both diagonal entries: rotating would change nothing
                    } else if (Math.abs(a[p][q]) > threshold) {
                        rotate(a, v, d, z, p, q, g);
                    }
                }
            }
            for (int i = 0; i < n; i++) {
                b[i] += z[i];
                d[i] = b[i];
                z[i] = 0;
            }
        }
        throw new ArithmeticException("Jacobi eigendecomposition did not converge in " + MAX_SWEEPS + " sweeps");
    }

    private static void rotate(double[][] a, double[][] v, double[] d, double[] z, int p, int q, double g) {
        int n = d.length;
        double h = d[q] - d[p];
        double t;
        if (Math.abs(h) + g == Math.abs(h)) {
            t = a[p][q] / h;
        } else {
            double theta = 0.5 * h / a[p][q];
            t = 1 / (Math.abs(theta) + Math.sqrt(1 + theta * theta));
            if (theta < 0) {
                t = -t;
            }
        }
        double c = 1 / Math.sqrt(1 + t * t);
        double s = t * c;
        double tau = s / (1 + c);
        h = t * a[p][q];
        z[p] -= h;
        z[q] += h;
        d[p] -= h;
        d[q] += h;
        a[p][q] = 0;
        for (int j = 0; j < p; j++) {
            rot(a, s, tau, j, p, j, q);
        }
        for (int j = p + 1; j < q; j++) {
            rot(a, s, tau, p, j, j, q);
        }
        for (int j = q + 1; j < n; j++) {
            rot(a, s, tau, p, j, q, j);
        }
        for (int j = 0; j < n; j++) {
            rot(v, s, tau, j, p, j, q);
        }
    }

    private static void rot(double[][] a, double s, double tau, int i, int j, int k, int l) {
        double g = a[i][j];
        double h = a[k][l];
        a[i][j] = g - s * (h + g * tau);
        a[k][l] = h + s * (g - h * tau);
    }

    /**
     * The principal square root V·diag(√λ)·Vᵀ of a positive semi-definite matrix; eigenvalues that
     * rounding pushed below zero count as zero.
     */
    public double[][] sqrtMatrix() {
        int n = values.length;
        double[] r = new double[n];
        for (int k = 0; k < n; k++) {
            r[k] = Math.sqrt(Math.max(0, values[k]));
        }
        double[][] out = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) {
                double sum = 0;
                for (int k = 0; k < n; k++) {
                    sum += vectors[i][k] * r[k] * vectors[j][k];
                }
                out[i][j] = sum;
                out[j][i] = sum;
            }
        }
        return out;
    }
}
