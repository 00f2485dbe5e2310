"""Which digits should a model not be trusted on?

Train on digits 0-4 only, then look at the epistemic uncertainty (mutual
information between label and weights) of a deep ensemble on digits it has
seen (0-4) and digits it has never seen (5-9). A plain network is confidently
wrong on the unseen digits; the ensemble's epistemic uncertainty flags them.
"""

from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from skbdl import BayesianMLPClassifier

X, y = load_digits(return_X_y=True)
X = StandardScaler().fit_transform(X)
seen = y < 5
clf = BayesianMLPClassifier((100,), method="ensemble", max_epochs=50, random_state=0)
clf.fit(X[seen][::2], y[seen][::2])

u_seen = clf.predict_uncertainty(X[seen][1::2])
u_new = clf.predict_uncertainty(X[~seen])
print(f"mean epistemic uncertainty, seen digits 0-4:   {u_seen.epistemic.mean():.4f}")
print(f"mean epistemic uncertainty, unseen digits 5-9: {u_new.epistemic.mean():.4f}")
print(
    f"mean confidence on unseen digits: {clf.predict_proba(X[~seen]).max(1).mean():.3f}"
)
