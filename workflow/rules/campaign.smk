def all_targets():
    return [d + "/production/run.json" for d in run_dirs()]
