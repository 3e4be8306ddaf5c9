#include "backend/CompileOptions.h"

#include "ember/backend/v1/options.pb.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace ember::backend {

std::string serializeCompileOptions(const CompileOptions &o) {
  v1::CompileOptions p;
  p.set_schema_version(1);
  if (o.optLevel)
    p.set_opt_level(*o.optLevel);
  p.set_num_threads(o.numThreads);
  p.set_target_triple(o.targetTriple);
  p.set_target_cpu(o.targetCpu);
  p.set_profile_level(o.profileLevel);
  for (const auto &[k, v] : o.vendor)
    (*p.mutable_vendor())[k] = v;
  // The same options give the same bytes (the vendor map in key order).
  std::string out;
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    p.SerializeToCodedStream(&cos);
  }
  return out;
}

} // namespace ember::backend
