/* placeholder so an empty layer still forms a library */
typedef int sg_empty_translation_unit;
