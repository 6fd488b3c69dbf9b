"""The whole chain as one run: its modules in order (:mod:`~lofar_hires.chain.modules`), the cluster profiles
that choose the CWL runner (:mod:`~lofar_hires.chain.profiles`), the run configuration
(:mod:`~lofar_hires.chain.config`), the run folder's tree and manifest (:mod:`~lofar_hires.chain.tree`,
:mod:`~lofar_hires.chain.state`) and the orchestration (:mod:`~lofar_hires.chain.run`)."""
