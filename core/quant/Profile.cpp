#include "quant/Profile.h"

#include "support/Json.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ember::quant {

void TensorStats::add(const float *x, const Dims &dims) {
  int64_t n = numElements(dims);
  hist.add(x, n);
  if (channelAxis < 0 || size_t(channelAxis) >= dims.size())
    return;
  int64_t c = dims[size_t(channelAxis)];
  int64_t inner = 1, outer = 1;
  for (size_t i = size_t(channelAxis) + 1; i < dims.size(); ++i)
    inner *= dims[i];
  for (size_t i = 0; i < size_t(channelAxis); ++i)
    outer *= dims[i];
  if (channelSum.empty()) {
    channelSum.assign(size_t(c), 0.0);
    channelMin.assign(size_t(c), std::numeric_limits<double>::infinity());
    channelMax.assign(size_t(c), -std::numeric_limits<double>::infinity());
    channelMaxSum.assign(size_t(c), 0.0);
    channelMaxSq.assign(size_t(c), 0.0);
    channelImages = 0;
  }
  if (int64_t(channelSum.size()) != c)
    return; // shapes differ between samples: means stay per first shape
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < c; ++k) {
      const float *p = x + (o * c + k) * inner;
      double s = 0;
      float lo = std::numeric_limits<float>::infinity(), hi = -lo;
      for (int64_t i = 0; i < inner; ++i) {
        s += double(p[i]);
        lo = std::min(lo, p[i]);
        hi = std::max(hi, p[i]);
      }
      channelSum[size_t(k)] += s;
      channelMin[size_t(k)] = std::min(channelMin[size_t(k)], double(lo));
      channelMax[size_t(k)] = std::max(channelMax[size_t(k)], double(hi));
      channelMaxSum[size_t(k)] += double(hi);
      channelMaxSq[size_t(k)] += double(hi) * double(hi);
    }
  channelImages += uint64_t(outer);
  perChannel += uint64_t(outer * inner);
}

void TensorStats::merge(const TensorStats &o) {
  hist.merge(o.hist);
  if (o.channelSum.empty())
    return;
  if (channelSum.empty()) {
    channelAxis = o.channelAxis;
    channelSum = o.channelSum;
    perChannel = o.perChannel;
    channelMin = o.channelMin;
    channelMax = o.channelMax;
    channelMaxSum = o.channelMaxSum;
    channelMaxSq = o.channelMaxSq;
    channelImages = o.channelImages;
    return;
  }
  if (channelSum.size() != o.channelSum.size())
    return;
  for (size_t i = 0; i < channelSum.size(); ++i)
    channelSum[i] += o.channelSum[i];
  if (channelMin.size() != channelSum.size() ||
      o.channelMin.size() != channelSum.size()) {
    channelMin.clear();
    channelMax.clear();
  }
  if (channelMaxSum.size() != channelMax.size() ||
      o.channelMaxSum.size() != channelMax.size()) {
    channelMaxSum.clear();
    channelMaxSq.clear();
    channelImages = 0;
  }
  for (size_t i = 0; i < channelMaxSum.size(); ++i) {
    channelMaxSum[i] += o.channelMaxSum[i];
    channelMaxSq[i] += o.channelMaxSq[i];
  }
  if (!channelMaxSum.empty())
    channelImages += o.channelImages;
  for (size_t i = 0; i < channelMin.size(); ++i) {
    channelMin[i] = std::min(channelMin[i], o.channelMin[i]);
    channelMax[i] = std::max(channelMax[i], o.channelMax[i]);
  }
  perChannel += o.perChannel;
}

namespace {

// Student's t quantile for probability 0.999 and `dof` degrees of freedom:
// the exact values up to 30, then the Cornish-Fisher expansion around the
// normal quantile (within 0.1% above 30).
double tQuantile999(uint64_t dof) {
  static const double kT[] = {
      318.31, 22.327, 10.215, 7.173, 5.893, 5.208, 4.785, 4.501, 4.297, 4.144,
      4.025,  3.930,  3.852,  3.787, 3.733, 3.686, 3.646, 3.610, 3.579, 3.552,
      3.527,  3.505,  3.485,  3.467, 3.450, 3.435, 3.421, 3.408, 3.396, 3.385};
  if (dof == 0)
    return std::numeric_limits<double>::infinity();
  if (dof <= 30)
    return kT[dof - 1];
  const double z = 3.090232, v = double(dof);
  return z + (z * z * z + z) / (4 * v) +
         (5 * std::pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * v * v);
}

} // namespace

double TensorStats::channelReach(size_t c) const {
  if (c >= channelMaxSum.size() || c >= channelMax.size() || channelImages < 2)
    return std::numeric_limits<double>::infinity();
  const double n = double(channelImages);
  const double mean = channelMaxSum[c] / n;
  const double var =
      std::max(0.0, (channelMaxSq[c] - channelMaxSum[c] * mean) / (n - 1));
  const double reach =
      mean + tQuantile999(channelImages - 1) * std::sqrt(var * (1 + 1 / n));
  return std::max(reach, channelMax[c]);
}

std::vector<double> TensorStats::channelMean() const {
  std::vector<double> m(channelSum.size(), 0.0);
  if (perChannel == 0)
    return m;
  for (size_t i = 0; i < m.size(); ++i)
    m[i] = channelSum[i] / double(perChannel);
  return m;
}

std::string profileToJson(const Profile &p) {
  std::string s = "{\n";
  s += "  \"format\": \"ember-quantization-profile\",\n";
  s += "  \"version\": " + std::to_string(Profile::kVersion) + ",\n";
  s += "  \"graph_hash\": " + jsonQuote(p.graphHash) + ",\n";
  s += "  \"model\": " + jsonQuote(p.model) + ",\n";
  s += "  \"preprocess\": " + jsonQuote(p.preprocess) + ",\n";
  s += "  \"samples\": " + std::to_string(p.samples) + ",\n";
  s += "  \"inputs\": {";
  bool first = true;
  for (auto &kv : p.inputShapes) {
    s += first ? "" : ", ";
    first = false;
    s += jsonQuote(kv.first) + ": [";
    for (size_t i = 0; i < kv.second.size(); ++i)
      s += (i ? ", " : "") + std::to_string(kv.second[i]);
    s += "]";
  }
  s += "},\n  \"tensors\": [";
  first = true;
  for (auto &kv : p.tensors) {
    const TensorStats &t = kv.second;
    const Histogram &h = t.hist;
    s += first ? "\n" : ",\n";
    first = false;
    s += "    {\"name\": " + jsonQuote(kv.first);
    s += ", \"count\": " + std::to_string(h.count());
    s += ", \"min\": " + jsonNumber(h.min());
    s += ", \"max\": " + jsonNumber(h.max());
    s += ", \"zeros\": " + std::to_string(h.zeros());
    s += ", \"bin_width\": " + jsonNumber(h.binWidth());
    s += ", \"first_bin\": " + std::to_string(h.firstBin());
    s += ",\n     \"histogram\": [";
    for (size_t i = 0; i < h.counts().size(); ++i)
      s += (i ? "," : "") + std::to_string(h.counts()[i]);
    s += "]";
    if (t.channelAxis >= 0 && !t.channelSum.empty()) {
      s += ",\n     \"channel_axis\": " + std::to_string(t.channelAxis);
      s += ", \"channel_count\": " + std::to_string(t.perChannel);
      s += ", \"channel_sum\": [";
      for (size_t i = 0; i < t.channelSum.size(); ++i)
        s += (i ? "," : "") + jsonNumber(t.channelSum[i]);
      s += "]";
      if (t.channelMin.size() == t.channelSum.size()) {
        s += ",\n     \"channel_min\": [";
        for (size_t i = 0; i < t.channelMin.size(); ++i)
          s += (i ? "," : "") + jsonNumber(t.channelMin[i]);
        s += "], \"channel_max\": [";
        for (size_t i = 0; i < t.channelMax.size(); ++i)
          s += (i ? "," : "") + jsonNumber(t.channelMax[i]);
        s += "]";
        if (t.channelMaxSum.size() == t.channelMax.size()) {
          s += ",\n     \"channel_images\": " + std::to_string(t.channelImages);
          s += ", \"channel_max_sum\": [";
          for (size_t i = 0; i < t.channelMaxSum.size(); ++i)
            s += (i ? "," : "") + jsonNumber(t.channelMaxSum[i]);
          s += "], \"channel_max_sq\": [";
          for (size_t i = 0; i < t.channelMaxSq.size(); ++i)
            s += (i ? "," : "") + jsonNumber(t.channelMaxSq[i]);
          s += "]";
        }
      }
    }
    s += "}";
  }
  s += "\n  ]";
  if (!p.channelRanges.empty()) {
    s += ",\n  \"channel_ranges\": {";
    first = true;
    auto list = [&s](const std::vector<double> &v) {
      s += "[";
      for (size_t i = 0; i < v.size(); ++i) {
        if (i)
          s += ",";
        s += jsonNumber(v[i]);
      }
      s += "]";
    };
    for (auto &kv : p.channelRanges) {
      s += first ? "\n    " : ",\n    ";
      first = false;
      s += jsonQuote(kv.first);
      s += ": {\"min\": ";
      list(kv.second.min);
      s += ",\n      \"max\": ";
      list(kv.second.max);
      s += "}";
    }
    s += "\n  }";
  }
  s += "\n}\n";
  return s;
}

namespace {
Status need(bool ok, const std::string &where, const std::string &what) {
  if (ok)
    return Status::ok();
  return invalid("bad profile: ", what, " (", where, ")");
}
bool isUint(const JsonValue *v) {
  return v && v->isNumber() && v->num() >= 0 &&
         v->num() == std::floor(v->num()) && v->num() < 1.8e19;
}
bool isInt(const JsonValue *v) {
  return v && v->isNumber() && v->num() == std::floor(v->num()) &&
         std::fabs(v->num()) < 9e15;
}
} // namespace

Expected<Profile> profileFromJson(const std::string &text,
                                  const std::string &where) {
  auto doc = parseJson(text);
  if (!doc)
    return invalid("bad profile: ", doc.status().message(), " (", where, ")");
  const JsonValue &d = *doc;
  const JsonValue *fmt = d.get("format");
  EMBER_TRY(
      need(fmt && fmt->isString() && fmt->str() == "ember-quantization-profile",
           where, "not an Ember quantization profile"));
  const JsonValue *ver = d.get("version");
  EMBER_TRY(need(
      ver && ver->isNumber() && ver->num() == Profile::kVersion, where,
      "version " +
          (ver && ver->isNumber() ? std::to_string(int64_t(ver->num()))
                                  : std::string("?")) +
          ", this Ember reads version " + std::to_string(Profile::kVersion)));
  Profile p;
  auto str = [&](const char *k, std::string &out) -> Status {
    const JsonValue *v = d.get(k);
    EMBER_TRY(need(v && v->isString(), where,
                   std::string("'") + k + "' is missing or not a string"));
    out = v->str();
    return Status::ok();
  };
  EMBER_TRY(str("graph_hash", p.graphHash));
  EMBER_TRY(str("model", p.model));
  EMBER_TRY(str("preprocess", p.preprocess));
  const JsonValue *samples = d.get("samples");
  EMBER_TRY(need(isUint(samples), where, "'samples' is not a count"));
  p.samples = uint64_t(samples->num());
  const JsonValue *inputs = d.get("inputs");
  EMBER_TRY(need(inputs && inputs->isObject(), where, "'inputs' is missing"));
  for (auto &kv : inputs->members()) {
    EMBER_TRY(need(kv.second.isArray(), where,
                   "input '" + kv.first + "' has no shape"));
    Dims dims;
    for (auto &x : kv.second.items()) {
      EMBER_TRY(need(isUint(&x), where,
                     "input '" + kv.first + "' has a bad dimension"));
      dims.push_back(int64_t(x.num()));
    }
    p.inputShapes[kv.first] = dims;
  }
  const JsonValue *tensors = d.get("tensors");
  EMBER_TRY(need(tensors && tensors->isArray(), where, "'tensors' is missing"));
  for (auto &t : tensors->items()) {
    const JsonValue *name = t.get("name");
    EMBER_TRY(need(name && name->isString(), where, "a tensor has no name"));
    std::string nm = name->str();
    std::string ctx = "tensor '" + nm + "'";
    const JsonValue *count = t.get("count"), *mn = t.get("min"),
                    *mx = t.get("max"), *zeros = t.get("zeros"),
                    *width = t.get("bin_width"), *first = t.get("first_bin"),
                    *hist = t.get("histogram");
    EMBER_TRY(need(isUint(count) && mn && mn->isNumber() && mx &&
                       mx->isNumber() && isUint(zeros) && width &&
                       width->isNumber() && isInt(first) && hist &&
                       hist->isArray(),
                   where,
                   ctx + " lacks count/min/max/zeros/bin_width/"
                         "first_bin/histogram"));
    std::vector<uint64_t> counts;
    for (auto &c : hist->items()) {
      EMBER_TRY(need(isUint(&c), where, ctx + ": bad histogram count"));
      counts.push_back(uint64_t(c.num()));
    }
    TensorStats st;
    auto h = Histogram::fromParts(mn->num(), mx->num(), uint64_t(count->num()),
                                  uint64_t(zeros->num()), width->num(),
                                  int64_t(first->num()), std::move(counts));
    if (!h)
      return invalid("bad profile: ", ctx, ": ", h.status().message(), " (",
                     where, ")");
    st.hist = std::move(*h);
    if (const JsonValue *axis = t.get("channel_axis")) {
      const JsonValue *cc = t.get("channel_count"), *cs = t.get("channel_sum");
      EMBER_TRY(need(isUint(axis) && isUint(cc) && cs && cs->isArray(), where,
                     ctx + ": bad channel statistics"));
      st.channelAxis = int(axis->num());
      st.perChannel = uint64_t(cc->num());
      for (auto &x : cs->items()) {
        EMBER_TRY(need(x.isNumber(), where, ctx + ": bad channel sum"));
        st.channelSum.push_back(x.num());
      }
      const JsonValue *cmin = t.get("channel_min"),
                      *cmax = t.get("channel_max");
      if (cmin || cmax) {
        EMBER_TRY(need(cmin && cmax && cmin->isArray() && cmax->isArray() &&
                           cmin->items().size() == st.channelSum.size() &&
                           cmax->items().size() == st.channelSum.size(),
                       where, ctx + ": bad channel ranges"));
        for (size_t i = 0; i < st.channelSum.size(); ++i) {
          const JsonValue &a = cmin->items()[i], &b = cmax->items()[i];
          EMBER_TRY(need(a.isNumber() && b.isNumber() && a.num() <= b.num(),
                         where, ctx + ": bad channel range"));
          st.channelMin.push_back(a.num());
          st.channelMax.push_back(b.num());
        }
        const JsonValue *ci = t.get("channel_images"),
                        *cs1 = t.get("channel_max_sum"),
                        *cs2 = t.get("channel_max_sq");
        if (ci || cs1 || cs2) {
          EMBER_TRY(need(isUint(ci) && cs1 && cs2 && cs1->isArray() &&
                             cs2->isArray() &&
                             cs1->items().size() == st.channelSum.size() &&
                             cs2->items().size() == st.channelSum.size(),
                         where, ctx + ": bad per-image channel maxima"));
          st.channelImages = uint64_t(ci->num());
          for (size_t i = 0; i < st.channelSum.size(); ++i) {
            const JsonValue &a = cs1->items()[i], &b = cs2->items()[i];
            EMBER_TRY(need(a.isNumber() && b.isNumber() && b.num() >= 0, where,
                           ctx + ": bad per-image channel maxima"));
            st.channelMaxSum.push_back(a.num());
            st.channelMaxSq.push_back(b.num());
          }
        }
      }
    }
    EMBER_TRY(need(!p.tensors.count(nm), where, ctx + " appears twice"));
    p.tensors[nm] = std::move(st);
  }
  if (const JsonValue *cr = d.get("channel_ranges")) {
    EMBER_TRY(need(cr->isObject(), where, "'channel_ranges' is not an object"));
    for (auto &kv : cr->members()) {
      std::string ctx = "channel ranges of '" + kv.first + "'";
      Profile::Channels ch;
      for (auto side : {"min", "max"}) {
        const JsonValue *v = kv.second.get(side);
        EMBER_TRY(need(v && v->isArray() && !v->items().empty(), where,
                       ctx + " lack '" + side + "'"));
        auto &out = std::string(side) == "min" ? ch.min : ch.max;
        for (auto &x : v->items()) {
          EMBER_TRY(need(x.isNumber() && std::isfinite(x.num()), where,
                         ctx + " hold a non-number"));
          out.push_back(x.num());
        }
      }
      EMBER_TRY(need(ch.min.size() == ch.max.size(), where,
                     ctx + ": 'min' and 'max' differ in length"));
      p.channelRanges[kv.first] = std::move(ch);
    }
  }
  return p;
}

} // namespace ember::quant
