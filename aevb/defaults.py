"""The default settings, in one place: ``aevb train``, run configs and the model classes read them.

The paper's settings (Section 5) where it states them; where it does not,
the choice made here, recorded in every run's config.json (README, "Choices
the paper leaves open").
"""
from .core.networks import INIT_STD
from .core.optim import WARMUP_STEPS

N_LATENT = 20                                   # J (N_z)
N_HIDDEN = {"mnist": 500, "frey": 200}          # H per dataset (Section 5)
LR = {"bernoulli": 0.01, "gaussian": 0.02}      # Adagrad's step size per decoder
BATCH_SIZE = 100                                # M
N_MC_SAMPLES = 1                                # L
ESTIMATOR = "B"                                 # eq. 7 / 10
OPTIMIZER = "adagrad"
ADAGRAD_WARMUP = WARMUP_STEPS                   # the authors' 100 accumulate-only steps
WEIGHT_DECAY = True                             # the MAP prior N(0, I) on the weights
BUDGET = 1_000_000                              # training samples evaluated
MAX_BUDGET = 10 ** 10                           # 100 times the paper's longest curve
SAMPLING = "shuffle"
BINARIZE = "dynamic"
TEST_BINARIZE = "fixed"                         # one Bernoulli draw of the test digits, seeded
SEED = 0
CHECKPOINT_EVERY = 100_000
RUN_DTYPE = "float64"                           # aevb train; the Python classes follow the data
METHOD = "aevb"
POSTERIOR = "gaussian"
# Full VB (Appendix F): one theta draw per minibatch in a run (Algorithm 2's one per
# datapoint costs M times more; the FullVB class defaults to it, theta_draws=None).
THETA_DRAWS = 1
INIT_LOGVAR = -10.0      # sigma_theta = 0.0067 at the start, below the init std 0.01 of the means
LOGVAR_LR = None

__all__ = ["N_LATENT", "N_HIDDEN", "LR", "BATCH_SIZE", "N_MC_SAMPLES", "ESTIMATOR", "OPTIMIZER",
           "ADAGRAD_WARMUP", "WEIGHT_DECAY", "BUDGET", "MAX_BUDGET", "SAMPLING", "BINARIZE",
           "TEST_BINARIZE", "SEED", "CHECKPOINT_EVERY", "RUN_DTYPE", "METHOD", "POSTERIOR",
           "THETA_DRAWS", "INIT_LOGVAR", "LOGVAR_LR", "INIT_STD"]
