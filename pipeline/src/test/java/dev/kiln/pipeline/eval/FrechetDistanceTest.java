package dev.kiln.pipeline.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The Jacobi eigendecomposition and the Fréchet distance, on cases worked out by hand. */
class FrechetDistanceTest {
    @Test
    void eigenvaluesOfSmallMatricesKnownInClosedForm() {
        double[] v = SymmetricEigen.of(new double[][] {{2, 1}, {1, 2}}).values().clone();
        Arrays.sort(v);
        assertEquals(1, v[0], 1e-12);
        assertEquals(3, v[1], 1e-12);
        // the second-difference matrix: eigenvalues 2 - 2cos(kπ/4), k = 1..3
        double[] w = SymmetricEigen.of(new double[][] {{2, -1, 0}, {-1, 2, -1}, {0, -1, 2}}).values().clone();
        Arrays.sort(w);
        assertEquals(2 - Math.sqrt(2), w[0], 1e-12);
        assertEquals(2, w[1], 1e-12);
        assertEquals(2 + Math.sqrt(2), w[2], 1e-12);
    }

    @Test
    void squareRootSquaresBackOnARandomCovariance() {
        Random r = new Random(3);
        int n = 40;
        double[][] x = new double[60][n];
        for (double[] row : x) {
            for (int j = 0; j < n; j++) {
                row[j] = r.nextGaussian() + (j % 3) * row[0];
            }
        }
        double[][] c = new double[n][n];
        for (double[] row : x) {
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    c[i][j] += row[i] * row[j] / x.length;
                }
            }
        }
        double[][] root = SymmetricEigen.of(c).sqrtMatrix();
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int k = 0; k < n; k++) {
                    s += root[i][k] * root[k][j];
                }
                assertEquals(c[i][j], s, 1e-9, "(" + i + "," + j + ")");
            }
        }
    }

    @Test
    void gaussiansWithDiagonalCovariances() {
        // |μ1-μ2|² = 1 + 4; tr = 4 + 9 + 1 + 16 = 30; tr √(Σ1Σ2) = √4 + √144 = 14  →  5 + 30 - 28 = 7
        double fd = FrechetDistance.between(new double[] {0, 0}, new double[][] {{4, 0}, {0, 9}},
                new double[] {1, 2}, new double[][] {{1, 0}, {0, 16}});
        assertEquals(7, fd, 1e-12);
    }

    @Test
    void gaussiansWithACorrelatedCovariance() {
        // Σ1 = [[2,1],[1,2]] has eigenvalues 3 and 1, Σ2 = I: tr √Σ1 = √3 + 1, so FD = 4 + 2 - 2(√3 + 1) = 4 - 2√3
        double fd = FrechetDistance.between(new double[] {0, 0}, new double[][] {{2, 1}, {1, 2}},
                new double[] {0, 0}, new double[][] {{1, 0}, {0, 1}});
        assertEquals(4 - 2 * Math.sqrt(3), fd, 1e-12);
        // Σ2 a rotated copy of Σ1: the same distribution up to rotation, not the same Gaussian.
        // Σ1 = diag(3, 1), Σ2 = [[2,1],[1,2]]: √Σ1 Σ2 √Σ1 = [[6, √3],[√3, 2]], eigenvalues 4 ± √7
        double fd2 = FrechetDistance.between(new double[] {0, 0}, new double[][] {{3, 0}, {0, 1}},
                new double[] {0, 0}, new double[][] {{2, 1}, {1, 2}});
        assertEquals(8 - 2 * (Math.sqrt(4 + Math.sqrt(7)) + Math.sqrt(4 - Math.sqrt(7))), fd2, 1e-12);
    }

    @Test
    void fromSamples() {
        // a = {(0,0), (2,0), (0,2), (2,2)}: mean (1,1), unbiased covariance (4/3)·I
        // b = {(1,1), (3,1), (1,3), (3,3)}: the same shifted by (1,1)  →  FD = 2
        float[][] a = {{0, 0}, {2, 0}, {0, 2}, {2, 2}};
        float[][] b = {{1, 1}, {3, 1}, {1, 3}, {3, 3}};
        assertEquals(2, FrechetDistance.between(a, b), 1e-9);
        // b' = 2·a: covariance (16/3)·I, mean (2,2): 2 + 2·(4/3) + 2·(16/3) - 2·2·√(64/9) = 2 + 40/3 - 32/3 = 14/3
        float[][] b2 = {{0, 0}, {4, 0}, {0, 4}, {4, 4}};
        assertEquals(14.0 / 3, FrechetDistance.between(a, b2), 1e-9);
        assertEquals(0, FrechetDistance.between(a, a), 1e-9);
    }
}
