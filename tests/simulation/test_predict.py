"""The visibility engine against independent predictions.

* a brute-force per-baseline, per-source sum written differently (explicit Jones
  products, Gaussian visibility from its covariance matrix), on random inputs;
* DP3's own predict of the simulator's sky model on a simulated MS.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import ALL_CORRUPTIONS_OFF
from lofar_hires.physics import C_M_S
from lofar_hires.runners.dp3 import Dp3Run, Dp3Step, run_dp3
from lofar_hires.simulation.predict import Components, predict_visibilities


def _brute_force(uvw, freqs, lmn, flux, gauss, maj, mnr, pa, a1, a2, extra, amp, diag, far, beam):
    nt, nst, _ = uvw.shape
    ns = len(lmn)
    out = np.zeros((nt, len(a1), len(freqs), 2, 2), complex)
    for t in range(nt):
        for b, (p, q) in enumerate(zip(a1, a2)):
            u = uvw[t, q] - uvw[t, p]
            for f, nu in enumerate(freqs):
                lam = C_M_S / nu
                for s in range(ns):
                    geo = np.exp(2j * np.pi * (u[0] * lmn[s, 0] + u[1] * lmn[s, 1] + u[2] * (lmn[s, 2] - 1)) / lam)
                    env = 1.0
                    if gauss[s]:
                        sig_maj = maj[s] / (2 * np.sqrt(2 * np.log(2)))
                        sig_min = mnr[s] / (2 * np.sqrt(2 * np.log(2)))
                        rot = np.array([[np.sin(pa[s]), np.cos(pa[s])], [np.cos(pa[s]), -np.sin(pa[s])]])
                        cov = rot.T @ np.diag([sig_maj**2, sig_min**2]) @ rot
                        uv = u[:2] / lam
                        env = np.exp(-2 * np.pi**2 * uv @ cov @ uv)

                    def jones(k):
                        c, s_ = np.cos(far[t, k, f]), np.sin(far[t, k, f])
                        fr = np.array([[c, -s_], [s_, c]])
                        scalar = amp[t, k] * np.exp(1j * extra[t, k, s, f])
                        return np.diag(diag[f, k]) @ beam[t, k, s, f] @ fr * scalar

                    out[t, b, f] += flux[s, f] * env * geo * (jones(p) @ jones(q).conj().T)
    return out.reshape(nt, len(a1), len(freqs), 4)


@pytest.mark.parametrize("with_beam", [True, False], ids=["beam", "no-beam"])
def test_engine_matches_brute_force(with_beam):
    rng = np.random.default_rng(7)
    nt, nst, nf = 2, 4, 3
    uvw = rng.normal(0, 3000, size=(nt, nst, 3))
    freqs = np.array([120e6, 150e6, 180e6])
    lm = rng.uniform(-0.02, 0.02, size=(3, 2))
    lmn = np.column_stack([lm, np.sqrt(1 - (lm**2).sum(1))])
    flux = rng.uniform(0.5, 2, size=(3, nf))
    gauss = np.array([False, True, False])
    maj = np.array([0.0, 30.0, 0.0]) * np.pi / 180 / 3600
    mnr = np.array([0.0, 12.0, 0.0]) * np.pi / 180 / 3600
    pa = np.radians([0.0, 35.0, 0.0])
    a1, a2 = np.triu_indices(nst, 1)
    extra = rng.uniform(-3, 3, size=(nt, nst, 3, nf))
    amp = rng.uniform(0.9, 1.1, size=(nt, nst))
    diag = rng.normal(1, 0.1, size=(nf, nst, 2)) * np.exp(1j * rng.uniform(-1, 1, size=(nf, nst, 2)))
    far = rng.uniform(-1, 1, size=(nt, nst, nf))
    if with_beam:
        beam = rng.normal(size=(nt, nst, 3, nf, 2, 2)) + 1j * rng.normal(size=(nt, nst, 3, nf, 2, 2))
    else:
        beam = np.broadcast_to(np.eye(2), (nt, nst, 3, nf, 2, 2))
    comps = Components(lmn=lmn, flux_jy=flux, gaussian=gauss, major_rad=maj, minor_rad=mnr, pa_rad=pa)
    got = predict_visibilities(uvw, freqs, comps, a1, a2, extra_phase_rad=extra, amplitude=amp,
                               diagonal=diag, faraday_rad=far, beam=beam if with_beam else None)
    want = _brute_force(uvw, freqs, lmn, flux, gauss, maj, mnr, pa, a1, a2, extra, amp, diag, far, beam)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * np.abs(want).max())


def test_engine_matches_dp3_predict(simulated, tmp_path):
    """DP3 predict of the truth sky model reproduces the simulated (uncorrupted) DATA."""
    from casacore.tables import table

    sim = simulated("predict_clean", overrides=ALL_CORRUPTIONS_OFF + ("calibrator.enabled=false",))
    ms = sim.targets()[0].ms
    out = tmp_path / "dp3_model.MS"
    run = Dp3Run(msin=ms, msout=out, steps=[Dp3Step("predict", "predict", {"sourcedb": sim.sky_model})])
    run_dp3(run, tmp_path, "predict")
    with table(str(ms), ack=False) as a, table(str(out), ack=False) as b:
        ours = a.getcol("DATA")
        theirs = b.getcol("DATA")
    with table(str(ms / "ANTENNA"), ack=False) as t:
        assert "DE601HBA" in t.getcol("NAME")  # long baselines are part of the comparison
    assert sim.sky_model.read_text().count("GAUSSIAN") >= 1
    scale = np.abs(ours).max()
    assert np.abs(ours - theirs).max() < 1e-4 * scale


@pytest.mark.parametrize("with_beam", [True, False], ids=["beam", "no-beam"])
def test_smearing_matches_averaging_over_the_cell(with_beam):
    """Smeared visibilities equal the average of unsmeared ones over a fine grid within each cell.

    The baselines are long (up to 1000 km) and the sources up to 1 deg out, so smearing removes
    most of their amplitude: a wrong sign, unit or axis would show at the percent level.
    """
    from lofar_hires.simulation.predict import Smearing

    rng = np.random.default_rng(11)
    nst, nf = 4, 2
    freqs = np.array([130e6, 160e6])
    dnu, dt = 390625.0, 60.0
    uvw0 = rng.normal(0, 4e5, size=(1, nst, 3))
    rate = rng.normal(0, 30.0, size=(1, nst, 3))  # m/s: the Earth's rotation on a ~1000 km baseline
    lm = rng.uniform(-0.015, 0.015, size=(4, 2))
    lmn = np.column_stack([lm, np.sqrt(1 - (lm**2).sum(1))])
    flux = rng.uniform(0.5, 2, size=(4, nf))
    gauss = np.array([False, True, False, False])
    comps = Components.from_arrays(lmn, flux, gauss, np.array([0, 3.0, 0, 0]), np.array([0, 2.0, 0, 0]),
                                   np.array([0, 30.0, 0, 0]))
    a1, a2 = np.triu_indices(nst, 1)
    beam = rng.normal(size=(1, nst, 4, nf, 2, 2)) + 1j * rng.normal(size=(1, nst, 4, nf, 2, 2)) if with_beam else None
    smeared = predict_visibilities(uvw0, freqs, comps, a1, a2, beam=beam, smearing=Smearing(dnu, dt, rate))
    # Brute force: 41 x 41 sub-samples across the cell (time, frequency), midpoint rule.
    n_sub = 41
    offsets = (np.arange(n_sub) + 0.5) / n_sub - 0.5
    total = np.zeros_like(smeared)
    for ot in offsets:
        uvw_t = uvw0 + rate * ot * dt
        for f in range(nf):
            sub_freqs = freqs[f] + offsets * dnu
            sub_comps = Components.from_arrays(lmn, np.repeat(flux[:, f:f + 1], n_sub, axis=1), gauss,
                                               np.array([0, 3.0, 0, 0]), np.array([0, 2.0, 0, 0]),
                                               np.array([0, 30.0, 0, 0]))
            sub_beam = None if beam is None else np.repeat(beam[:, :, :, f:f + 1], n_sub, axis=3)
            v = predict_visibilities(uvw_t, sub_freqs, sub_comps, a1, a2, beam=sub_beam)
            total[:, :, f] += v.mean(axis=2)
    total /= n_sub
    unsmeared = predict_visibilities(uvw0, freqs, comps, a1, a2, beam=beam)
    scale = np.abs(unsmeared).max()
    assert np.abs(unsmeared - total).max() > 0.3 * scale  # smearing matters on these baselines
    assert np.abs(smeared - total).max() < 0.01 * scale
