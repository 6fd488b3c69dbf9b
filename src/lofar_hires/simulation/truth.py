"""Ground truth written beside each simulated MS: an h5parm and a JSON summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lofar_hires import __version__
from lofar_hires.config_schema import to_mapping
from lofar_hires.io.h5parm import Soltab
from lofar_hires.simulation import corruptions as cor
from lofar_hires.simulation.config import SimulationConfig
from lofar_hires.simulation.planning import ObservationPlan
from lofar_hires.simulation.stations import StationLayout


def truth_soltabs(times: np.ndarray, stations: StationLayout, truth: dict) -> list[Soltab]:
    """The injected corruptions as h5parm soltabs in DP3's conventions (see ``corruptions``)."""
    ant = np.array(stations.names)
    freqs = truth["freqs_hz"]
    pol = np.array(["XX", "YY"])
    axes_ta = {"time": times, "ant": ant}
    tabs = [
        Soltab("clock", "clock", dict(axes_ta), truth["clock_s"],
               attrs={"unit": "s", "meaning": "station clock delay"}),
        Soltab("tec", "tec", dict(axes_ta), truth["tec_tecu"],
               attrs={"unit": "TECU", "meaning": "direction-independent differential TEC"}),
        Soltab("tecscreen", "tec", {"time": times, "ant": ant, "dir": np.array(truth["patch_names"])},
               truth["screen_tecu"],
               attrs={"unit": "TECU", "meaning": "direction-dependent TEC of the phase screen "
                      "(add to tec for the total towards a direction)"}),
        Soltab("faraday", "rotationmeasure", dict(axes_ta), truth["rm_rad_m2"],
               attrs={"unit": "rad/m^2", "meaning": "differential rotation measure"}),
        Soltab("polalign", "phase", {"freq": freqs, "ant": ant, "pol": pol},
               np.transpose(truth["polalign_phase"], (0, 1, 2)),
               attrs={"unit": "rad", "meaning": "XX-YY polarisation delay as phases"}),
        Soltab("bandpass", "amplitude", {"freq": freqs, "ant": ant, "pol": pol}, truth["bandpass"],
               attrs={"unit": "", "meaning": "bandpass amplitude"}),
        Soltab("scintillation", "amplitude", dict(axes_ta), truth["scintillation"],
               attrs={"unit": "", "meaning": "amplitude scintillation"}),
    ]
    # A sky without components has no direction to hold a screen value for.
    return [t for t in tabs if not (t.name == "tecscreen" and len(truth["patch_names"]) == 0)]


def truth_summary(config: SimulationConfig, plan: ObservationPlan, stations: StationLayout,
                instrument: cor.InstrumentTruth, clock: cor.ClockModel, truth: dict,
                ms_path: Path, h5_path: Path, skymodel_path: Path) -> dict:
    """Everything a test needs to know about one simulated MS, as JSON-ready data."""
    obs = config.observation
    ref = config.stations.reference
    ref_i = stations.index(ref)
    sigma = truth["sigma_jy"]
    return {
        "lofar_hires_version": __version__,
        "name": plan.name,
        "kind": plan.kind,
        "seed": config.seed,
        "ms": ms_path.name,
        "truth_h5parm": h5_path.name,
        "skymodel": skymodel_path.name,
        "field_name": plan.field_name,
        "pointing_deg": [float(np.degrees(plan.pointing_rad[0])), float(np.degrees(plan.pointing_rad[1]))],
        "date_index": plan.date_index,
        "start_mjd_s": float(plan.times_mjd_s[0] - obs.integration_s / 2),
        "end_mjd_s": float(plan.times_mjd_s[-1] + obs.integration_s / 2),
        "n_time": int(len(plan.times_mjd_s)),
        "integration_s": obs.integration_s,
        "freqs_hz": [float(f) for f in truth["freqs_hz"]],
        "chan_width_hz": obs.chan_width_hz,
        "reference_station": ref,
        "stations": [
            {
                "name": name,
                "group": stations.groups[i],
                "n_tiles": int(stations.n_tiles[i]),
                "polalign_delay_ns": float(instrument.polalign_delay_s[i] * 1e9),
                "polalign_delay_ns_vs_reference": float(
                    (instrument.polalign_delay_s[i] - instrument.polalign_delay_s[ref_i]) * 1e9),
                "clock_offset_ns": float(clock.offset_s[i] * 1e9),
                "clock_drift_ns_per_hour": float(clock.rate[i] * 3600e9),
                "clock_rms_ns": float(np.std(truth["clock_s"][:, i]) * 1e9),
                "tec_rms_tecu": float(np.std(truth["tec_tecu"][:, i])),
                "rm_mean_rad_m2": float(np.mean(truth["rm_rad_m2"][:, i])),
                "bandpass_median": [float(v) for v in np.median(truth["bandpass"][:, i, :], axis=0)],
                "scintillation_rms": float(np.std(truth["scintillation"][:, i])),
            }
            for i, name in enumerate(stations.names)
        ],
        "corruptions_enabled": {
            key: getattr(config.corruptions, key).enabled
            for key in ("clock", "polalign", "bandpass", "faraday", "tec", "tecscreen",
                        "scintillation", "beam", "noise")
        },
        "noise": {
            "sigma_per_visibility_jy_min": float(sigma.min()) if config.corruptions.noise.enabled else 0.0,
            "sigma_per_visibility_jy_max": float(sigma.max()) if config.corruptions.noise.enabled else 0.0,
            "expected_stokes_i_image_rms_natural_jy": truth["image_noise_jy"],
            "definition": "sigma is the rms of the real (and imaginary) part of one correlation; "
                          "WEIGHT_SPECTRUM = 1/sigma^2",
        },
        "settings": to_mapping(config),
        "directions": {
            name: [float(np.degrees(ra)), float(np.degrees(dec))]
            for name, ra, dec in zip(truth["patch_names"], *truth["patch_radec"])
        },
        "conventions": {
            "visibility": "V_pq = sum_s J_ps B_s J_qs^H, UVW = uvw(ANTENNA2) - uvw(ANTENNA1)",
            "jones_chain": "polalign . bandpass . clock . scintillation . beam . faraday . tec",
            "tec_phase": "phase = -8.44797245e9 * TEC / nu",
            "clock_phase": "phase = 2 pi nu clock",
            "faraday": "rotation [[cos, -sin], [sin, cos]] by RM * lambda^2",
            "polalign": "phase 0 on XX and -2 pi nu delay on YY",
        },
    }
