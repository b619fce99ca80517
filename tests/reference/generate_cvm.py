"""Reference values for drift-cvm: the two-sample Cramér–von Mises test,
`scipy.stats.cramervonmises_2samp(reference, current, method="auto")`.

`auto` takes the exact null distribution when neither sample has more than 20 values and the
asymptotic one (Anderson 1962, through the limiting distribution of the one-sample statistic)
otherwise. A side with fewer than two values makes SciPy raise, so the plugin refuses it. One departure:
when both sides hold one and the same constant, SciPy's midrank formula yields a large
statistic and a tiny p-value; the plugin reports a statistic of 0 and a p-value of 1.

Run with the Python environment of docs/statistics.md (numpy, scipy) from anywhere; writes
cvm.json next to this script. Cases: two_sample_cases.py.
"""

from scipy import stats

from reference_file import write
from two_sample_cases import build, numeric_cases


def expected(reference, current, config):
    if len(set(reference) | set(current)) == 1 and len(reference) > 1 and len(current) > 1:
        # One constant on both sides: SciPy's midrank formula reports a large statistic and a
        # tiny p-value here; the plugin reports no drift instead (docs/statistics.md).
        return 0.0, 1.0
    result = stats.cramervonmises_2samp(reference, current, method="auto")
    return result.statistic, result.pvalue


if __name__ == "__main__":
    write("generate_cvm.py", "cvm.json", build("numeric", numeric_cases(0.01), expected))
