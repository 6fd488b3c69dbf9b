// Resources of a step tool from the size of its inputs (in MiB), for ResourceRequirement.
//
// A step that writes measurement-set data needs disk for `copies` times the size of its input
// measurement sets. The sizes come from the inputs' file listings (`loadListing: deep_listing`),
// which carry file sizes where the runner reports them (toil does; cwltool lists files without
// sizes). `floorMiB` (the step's `disk_mb` input) is the least that is reserved in any case.

// Total size in MiB of Files, Directories (their listing, recursively) and arrays of them.
function inputMiB(items) {
  var bytes = 0;
  var add = function (item) {
    if (item === null || item === undefined) {
      return;
    }
    if (Array.isArray(item)) {
      item.forEach(add);
    } else if (item["class"] === "File") {
      bytes += item.size || 0;
    } else if (item["class"] === "Directory") {
      (item.listing || []).forEach(add);
    }
  };
  add(items);
  return bytes / 1048576;
}

// Disk in MiB for `copies` times the inputs `items`, and at least `floorMiB`.
function diskMiB(items, copies, floorMiB) {
  return Math.max(floorMiB, Math.ceil(copies * inputMiB(items)));
}
