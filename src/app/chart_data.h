// The numbers behind each explanation chart, as CSV and JSON for export. Pure functions
// of an ExplainResult (tested without GL).
#pragma once
#include <string>

#include "explain_result.h"

namespace loupe::app {

// One matrix: "query,query_text,key,key_text,weight" for key <= query. `matrix` is n x n.
std::string AttentionCsv(const ExplainResult& r, const float* matrix);
std::string AttentionJson(const ExplainResult& r, const float* matrix, const std::string& what);
// "layer,position,token_text,rank,id,text,prob": every layer slot, position and rank.
std::string LensCsv(const ExplainResult& r);
std::string LensJson(const ExplainResult& r);
// "position,id,text,score" plus the method and target in the JSON.
std::string AttributionCsv(const ExplainResult& r);
std::string AttributionJson(const ExplainResult& r);
// A CSV field: quoted, with quotes doubled.
std::string CsvText(const std::string& text);

}  // namespace loupe::app
