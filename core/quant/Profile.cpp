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
    channelNextMax = channelMax;
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
      double &top = channelMax[size_t(k)], &next = channelNextMax[size_t(k)];
      next = std::max(next, std::min(top, double(hi)));
      top = std::max(top, double(hi));
    }
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
    channelNextMax = o.channelNextMax;
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
  if (channelNextMax.size() != channelMax.size() ||
      o.channelNextMax.size() != channelMax.size())
    channelNextMax.clear();
  for (size_t i = 0; i < channelNextMax.size(); ++i) // the union's top two
    channelNextMax[i] =
        std::max({channelNextMax[i], o.channelNextMax[i],
                  std::min(channelMax[i], o.channelMax[i])});
  for (size_t i = 0; i < channelMin.size(); ++i) {
    channelMin[i] = std::min(channelMin[i], o.channelMin[i]);
    channelMax[i] = std::max(channelMax[i], o.channelMax[i]);
  }
  perChannel += o.perChannel;
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
        // Written once every channel has one (two images or more).
        bool next = t.channelNextMax.size() == t.channelMax.size();
        for (double v : t.channelNextMax)
          next = next && std::isfinite(v);
        if (next) {
          s += ", \"channel_next_max\": [";
          for (size_t i = 0; i < t.channelNextMax.size(); ++i)
            s += (i ? "," : "") + jsonNumber(t.channelNextMax[i]);
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
        if (const JsonValue *cn = t.get("channel_next_max")) {
          EMBER_TRY(need(cn->isArray() &&
                             cn->items().size() == st.channelSum.size(),
                         where, ctx + ": bad channel_next_max"));
          for (size_t i = 0; i < st.channelSum.size(); ++i) {
            const JsonValue &x = cn->items()[i];
            EMBER_TRY(need(x.isNumber() && x.num() <= st.channelMax[i], where,
                           ctx + ": bad channel_next_max"));
            st.channelNextMax.push_back(x.num());
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
