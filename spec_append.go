package enricher

// AppendSpec appends the JSON of s to dst, byte-identical to json.Marshal(s) (the contract of
// json_append.go) and failing exactly when it fails; on error dst is returned unchanged. The
// schema content is compacted by the hand-written validator instead of encoding/json's
// scanner. A nil s is null.
func AppendSpec(dst []byte, s *EnrichSpec) ([]byte, error) {
	if s == nil {
		return append(dst, "null"...), nil
	}
	return s.appendJSON(dst)
}

func (s *EnrichSpec) appendJSON(dst []byte) (_ []byte, err error) {
	mark := len(dst)
	dst = append(dst, '{')
	if len(s.EntityData) > 0 {
		dst = append(dst, `"entity_data":`...)
		if dst, err = appendJSONValue(dst, s.EntityData, jsonHTML, 0); err != nil {
			return dst[:mark], err
		}
		dst = append(dst, ',')
	}
	if len(s.Entities) > 0 {
		dst = append(dst, `"entities":[`...)
		for i, e := range s.Entities {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendJSONValue(dst, e, jsonHTML, 0); err != nil {
				return dst[:mark], err
			}
		}
		dst = append(dst, "],"...)
	}
	if s.EntityCount != 0 {
		dst = append(dst, `"entity_count":`...)
		dst = appendJSONInt(dst, int64(s.EntityCount))
		dst = append(dst, ',')
	}
	if len(s.SelectedIndices) > 0 {
		dst = append(dst, `"selected_indices":[`...)
		for i, n := range s.SelectedIndices {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONInt(dst, int64(n))
		}
		dst = append(dst, "],"...)
	}
	dst = append(dst, `"schema_id":`...)
	dst = appendNullableString(dst, s.SchemaID)
	dst = append(dst, `,"schema_content":`...)
	if dst, err = appendRawJSON(dst, s.SchemaContent); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"models":`...)
	dst = appendStringSlice(dst, s.Models)
	dst = append(dst, `,"languages":`...)
	dst = appendStringSlice(dst, s.Languages)
	dst = append(dst, `,"strategy":`...)
	dst = appendJSONString(dst, string(s.Strategy))
	dst = append(dst, `,"classification_model":`...)
	dst = appendNullableString(dst, s.ClassificationModel)
	dst = append(dst, `,"arbitration_model":`...)
	dst = appendNullableString(dst, s.ArbitrationModel)
	dst = append(dst, `,"on_classification_mismatch":`...)
	dst = appendJSONString(dst, s.OnMismatch)
	if len(s.VerifyFields) > 0 {
		dst = append(dst, `,"verify_fields":`...)
		dst = appendStringSlice(dst, s.VerifyFields)
	}
	if s.Sync {
		dst = append(dst, `,"sync":true`...)
	}
	if len(s.FusionRecordIDs) > 0 {
		dst = append(dst, `,"fusion_record_ids":`...)
		dst = appendStringSlice(dst, s.FusionRecordIDs)
	}
	if w := s.Webhook; w != nil {
		dst = append(dst, `,"webhook":{"url":`...)
		dst = appendJSONString(dst, w.URL)
		dst = append(dst, `,"events":`...)
		dst = appendStringSlice(dst, w.Events)
		dst = append(dst, '}')
	}
	if s.Execution != "" {
		dst = append(dst, `,"execution":`...)
		dst = appendJSONString(dst, s.Execution)
	}
	return append(dst, '}'), nil
}
