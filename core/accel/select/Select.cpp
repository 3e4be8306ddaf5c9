// The claims (Select.h, whyNot; SelectInternal.h, analyze): per node of the
// partition graph whether the target runs it, from the form table
// (forms/Form.h): the forms' claims of patterns of several nodes, then per
// node the rows for its op, then the forms' settlements.
#include "Form.h"
#include "SelectInternal.h"

#include "ember/accel/Select.h"

#include <algorithm>

namespace ember::accel::sel {

bool has16(const Target &t, const char *form) {
  const Form *f = t.form(form);
  return f && f->act16 && t.wide16;
}

const TableChain *tableChainAt(const Analysis &a, int exit) {
  for (const TableChain &c : a.tables)
    if (c.exit == exit)
      return &c;
  return nullptr;
}

namespace {

// Node i's answer from the rows serving its op: the first whose check
// claims it (recorded in a.row), else the reason of the first whose dtypes
// hold its input's (else of the first), with those of the later rows that
// add theirs.
Status checkRows(const View &v, Analysis &a, int i, bool forCompile) {
  const v1::Node &n = v.g.nodes(i);
  const std::vector<const FormRow *> rows = rowsFor(v.t, v, n);
  if (rows.empty())
    return Status(ErrorCode::Unsupported,
                  "op " + n.op() + " is not in the forms of target '" +
                      v.t.name + "'");
  const int x = v.in(n, 0);
  const std::string dtype = x >= 0 ? v.dtype(x) : "";
  std::vector<std::string> why(rows.size());
  for (size_t k = 0; k < rows.size(); ++k) {
    const Status st = rows[k]->why(v, a, i, forCompile);
    if (st.isOk()) {
      a.row[size_t(i)] = rows[k];
      return Status::ok();
    }
    why[k] = st.message();
  }
  size_t first = 0;
  for (size_t k = 0; k < rows.size(); ++k)
    if (std::find_if(rows[k]->dtypes.begin(), rows[k]->dtypes.end(),
                     [&](const char *d) { return dtype == d; }) !=
        rows[k]->dtypes.end()) {
      first = k;
      break;
    }
  std::string reason = why[first];
  for (size_t k = first + 1; k < rows.size(); ++k)
    if (rows[k]->appendReason)
      reason += "; " + why[k];
  return Status(ErrorCode::Unsupported, reason);
}

} // namespace

Analysis analyze(const View &v, bool forCompile) {
  Analysis a;
  const int nn = v.g.nodes_size();
  a.why.assign(size_t(nn), "");
  a.row.assign(size_t(nn), nullptr);
  a.part.assign(size_t(nn), Analysis::Part());
  a.chainOf.assign(size_t(v.g.values_size()), Chain());
  for (const FormPattern *f : formPatterns())
    if (f->claim && v.t.form(f->name))
      f->claim(v, a);
  for (int i = 0; i < nn; ++i) {
    if (!a.free(i))
      continue; // part of a pattern: claimed with it
    const v1::Node &ni = v.g.nodes(i);
    const std::string &op = ni.op();
    a.why[size_t(i)] = checkRows(v, a, i, forCompile).message();
    const FormRow *row = a.row[size_t(i)];
    // Only movement and pixel ops read a layout with the channels on
    // another axis (View::chan); a Requantize keeps its input's, and a
    // Split along the channels at axis 1 of a rank-3 [N, C, L] reads them
    // there (its parts keep them).
    const int y0 = v.out(ni);
    const bool sameChan =
        (op == "Requantize" && y0 >= 0 &&
         v.chan[size_t(y0)] != defaultChan(v.dims(y0).size())) ||
        (op == "Split" && v.in(ni, 0) >= 0 && v.chan[size_t(v.in(ni, 0))] == 1);
    if (row && !row->anyLayout && !isMoveOp(op) && !sameChan)
      for (int x : ni.inputs())
        if (x >= 0 && v.chan[size_t(x)] != defaultChan(v.dims(x).size())) {
          a.why[size_t(i)] = "reads " + quoted(v.name(x)) +
                             " laid out with its channels on axis " +
                             std::to_string(v.chan[size_t(x)]);
          a.row[size_t(i)] = nullptr;
        }
    if (a.row[size_t(i)] && row->claimed)
      row->claimed(v, a, i);
    if (a.row[size_t(i)])
      for (const FormPattern *f : formPatterns())
        if (f->claimedNode && v.t.form(f->name))
          f->claimedNode(v, a, i);
  }
  for (const FormPattern *f : formPatterns())
    if (f->settle && v.t.form(f->name))
      f->settle(v, a, forCompile);
  return a;
}

} // namespace ember::accel::sel

namespace ember::accel {

std::vector<std::string> whyNot(const Target &t, const backend::v1::Graph &g,
                                const SelectOptions &o) {
  sel::View v(t, g);
  if (v.error.failed())
    return std::vector<std::string>(size_t(g.nodes_size()), v.error.message());
  v.patches = o.patches;
  std::vector<std::string> out;
  sel::Unshared u;
  if (!sel::unshareProducts(v, u)) {
    out = sel::analyze(v, false).why;
  } else {
    // Selection on the graph with a product per reader (Unshare.cpp); a
    // copied node answers as its original, or as the first copy refused.
    sel::View vu(t, u.g);
    vu.patches = o.patches;
    vu.origin = u.origin;
    vu.copyNo = u.copyNo;
    std::vector<std::string> why = sel::analyze(vu, false).why;
    out.assign(size_t(g.nodes_size()), "");
    for (size_t i = 0; i < why.size(); ++i) {
      std::string &w = out[size_t(u.origin[i])];
      if (!u.copyNo[i] || w.empty())
        w = why[i];
    }
  }
  if (o.hostIslands)
    sel::leaveIslandsOnHost(v, out, o.islandMacs);
  return out;
}

} // namespace ember::accel
